"""The breaker's verdict on one attempt: only provider-side failures count."""

from __future__ import annotations

import asyncio

import pytest

from motadata_ai.domain.gateway.outcomes import breaker_verdict, is_caller_deadline
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.llm import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("503", status_code=503),
        ProviderUnavailable("connection refused"),
        ProviderError("500 with no better name", status_code=500),
    ],
)
def test_provider_side_failures_count(error: BaseException) -> None:
    assert breaker_verdict(error) == "failure"
    assert breaker_verdict(error, caller_deadline=True) == "failure"


def test_a_timeout_counts_only_at_the_providers_own_deadline() -> None:
    timeout = ProviderTimeout("no answer in time")
    assert breaker_verdict(timeout, caller_deadline=False) == "failure"
    assert breaker_verdict(timeout, caller_deadline=True) == "caller"


@pytest.mark.parametrize(
    "error",
    [
        asyncio.CancelledError(),
        ProviderRateLimited("429", status_code=429),
        ValidationError("refused by a guardrail"),
        RuntimeError("not a provider error"),
    ],
)
def test_caller_caused_outcomes_never_count(error: BaseException) -> None:
    assert breaker_verdict(error) == "caller"


@pytest.mark.parametrize(
    "error",
    [
        None,
        ProviderBadRequest("400", status_code=400),
        ProviderAuthError("401", status_code=401),
        UnknownModel("404", status_code=404),
        ContextWindowExceeded("too long", status_code=400),
    ],
)
def test_an_answer_or_a_4xx_shows_a_healthy_provider(error: BaseException | None) -> None:
    assert breaker_verdict(error) == "healthy"


def test_caller_deadline_is_a_timeout_tighter_than_the_providers() -> None:
    assert is_caller_deadline(0.05, 30.0)
    assert not is_caller_deadline(None, 30.0)
    assert not is_caller_deadline(30.0, 30.0)
    assert not is_caller_deadline(60.0, 30.0)
    assert is_caller_deadline(10.0, None)
