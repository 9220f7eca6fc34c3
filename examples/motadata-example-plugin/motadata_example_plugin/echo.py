"""The ``echo`` provider: answers with the last user message (a LiteLLM custom provider)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm import CustomLLM
from litellm.types.utils import Choices, GenericStreamingChunk, Message, ModelResponse, Usage


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


class EchoProvider(CustomLLM):
    """Replies ``echo: <last user message>``."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        text = "echo: " + _last_user_text(messages)
        response: ModelResponse = kwargs["model_response"]
        response.choices = [
            Choices(index=0, message=Message(role="assistant", content=text), finish_reason="stop")
        ]
        response.model = f"echo/{model}"
        response.created = int(time.time())
        words = sum(len(str(m.get("content") or "").split()) for m in messages)
        response.usage = Usage(
            prompt_tokens=words, completion_tokens=len(text.split()), total_tokens=words + len(text.split())
        )  # type: ignore[attr-defined]
        return response

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return self.completion(model, messages, *args, **kwargs)

    def streaming(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> Iterator[GenericStreamingChunk]:  # type: ignore[override]
        text = "echo: " + _last_user_text(messages)
        yield {
            "text": text,
            "tool_use": None,
            "is_finished": True,
            "finish_reason": "stop",
            "index": 0,
            "usage": {
                "prompt_tokens": 1,
                "completion_tokens": len(text.split()),
                "total_tokens": 1 + len(text.split()),
            },
        }

    async def astreaming(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:  # type: ignore[override]
        for chunk in self.streaming(model, messages, *args, **kwargs):
            yield chunk
