"""MOTADATA_ALLOW_MODEL_REQUESTS=false (set for the whole test suite) refuses real provider calls."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat, LiteLLMEmbeddings
from motadata_ai.adapters.litellm._adapter import check_model_request_allowed
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.llm import ChatRequest, EmbeddingRequest, Message


def test_the_suite_runs_with_model_requests_switched_off() -> None:
    import os

    assert os.environ["MOTADATA_ALLOW_MODEL_REQUESTS"] == "false"


@pytest.mark.parametrize(
    ("model", "api_base"),
    [
        ("openai/gpt-4o-mini", None),
        ("anthropic/claude-3-5-sonnet", None),
        ("openai/x", "https://api.example.com/v1"),
    ],
)
def test_requests_that_would_leave_the_machine_are_refused(model: str, api_base: str | None) -> None:
    with pytest.raises(ConfigurationError, match="model requests are switched off") as info:
        check_model_request_allowed(model, api_base)
    assert info.value.model == model


@pytest.mark.parametrize(
    "api_base", ["http://127.0.0.1:8080/v1", "http://localhost:9/v1", "http://[::1]:8/v1"]
)
def test_loopback_servers_stay_allowed(api_base: str) -> None:
    check_model_request_allowed("openai/gpt-4o-mini", api_base)


async def test_adapters_refuse_before_any_network_call() -> None:
    chat = LiteLLMChat()
    with pytest.raises(ConfigurationError):
        await chat.complete(
            ChatRequest(model="openai/gpt-4o-mini", messages=(Message(role="user", content="hi"),))
        )
    with pytest.raises(ConfigurationError):
        await LiteLLMEmbeddings().embed(
            EmbeddingRequest(model="openai/text-embedding-3-small", inputs=("hi",))
        )


def test_switched_on_everything_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_ALLOW_MODEL_REQUESTS", "true")
    check_model_request_allowed("openai/gpt-4o-mini", None)
