"""The LLMPort contract on the in-process FunctionLLM (scripted like the loopback server)."""

from __future__ import annotations

import json
from collections import deque

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.values.llm import ChatRequest, Message, ToolCall
from motadata_ai.ports.llm import (
    LLMPort,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderInvalidResponse,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from motadata_ai.testing.contracts.llm import LLMContract, Reply

_ERRORS: dict[int, type[ProviderError]] = {
    400: ProviderBadRequest,
    401: ProviderAuthError,
    429: ProviderRateLimited,
    500: ProviderUnavailable,
}


class TestFunctionLLM(LLMContract):
    model = "function-model"

    async def make_llm(self) -> LLMPort:
        self.replies: deque[Reply] = deque()

        def respond(request: ChatRequest) -> Message | str:
            if not self.replies:
                question = request.messages[-1].content or ""
                return f"You asked: {question}"
            reply = self.replies.popleft()
            fields = {"model": request.model, "provider": "function", "status_code": reply.status}
            if reply.status != 200:
                error = _ERRORS.get(reply.status, ProviderUnavailable)
                if error is ProviderRateLimited:
                    raise error("rate limited", retry_after=reply.retry_after, **fields)
                raise error(f"scripted {reply.status}", **fields)
            if reply.empty_choices:
                raise ProviderInvalidResponse("scripted empty choices", **fields)
            if reply.delay:
                raise ProviderTimeout("scripted delay", **{**fields, "status_code": None})
            calls = tuple(
                ToolCall(id=f"call_{i}", name=c.name, arguments=json.dumps(c.arguments))
                for i, c in enumerate(reply.tool_calls)
            )
            return Message(role="assistant", content=reply.content, tool_calls=calls)

        return FunctionLLM(respond)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)
