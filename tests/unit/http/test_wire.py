"""The OpenAI wire format of ``/v1``: request bodies become gateway requests, one conversion."""

from __future__ import annotations

import pytest

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.http.v1.wire import ChatCompletionRequest, to_chat_request


def convert(**body: object) -> object:
    return to_chat_request(ChatCompletionRequest.model_validate(body), default_model="local/extractive")


def test_roles_parts_and_tool_history_convert() -> None:
    request = convert(
        messages=[
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "who owns "}, {"type": "text", "text": "LT-1?"}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "dana"},
        ],
        stop="END",
        max_completion_tokens=50,
        max_tokens=10,
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        presence_penalty=0.5,
    )
    assert request.model == "local/extractive"  # the gateway's default when the body names none
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.messages[1].content == "who owns LT-1?"
    assert request.messages[2].tool_calls[0].name == "lookup" and request.messages[3].tool_call_id == "c1"
    assert request.stop == ("END",) and request.max_tokens == 50
    assert request.tool_choice is None
    assert request.extra == {
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "presence_penalty": 0.5,
    }


def test_a_non_text_part_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        convert(
            model="m",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
        )
    assert caught.value.field == "messages.0.content"


def test_more_than_one_choice_is_refused_by_the_schema() -> None:
    with pytest.raises(Exception) as caught:
        ChatCompletionRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}
        )
    assert "n" in str(caught.value)
