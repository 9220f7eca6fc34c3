"""Token estimation and truncation of a prompt to the model's context window, by priority.

Priority, highest first: the system instructions, the latest user turn, the tool results of the
current task, recalled memories, then older conversation history. Lower-priority parts are
dropped (oldest history first, lowest-scored memory first, oldest tool exchange first) until the
prompt fits; a part that alone is too large is shortened, never silently lost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from motadata_ai.domain.guardrails.context import data_notice, fenced
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import Message

TokenCounter = Callable[[str], int]
"""Counts the tokens of a text for the target model (inject the model's tokenizer)."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat message costs beyond its content (role and separators), as OpenAI counts them."""

TRUNCATION_MARK = " …[truncated]"
MEMORIES_FENCE = "memories"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per four characters (rounded up)."""
    return math.ceil(len(text) / 4) if text else 0


class ContextWindowTooSmall(ValidationError):
    """Even the system instructions and the latest turn cannot fit ``max_tokens``."""


@dataclass
class FittedContext:
    """The messages that fit, their estimated tokens, and what was dropped or shortened."""

    messages: list[Message]
    tokens: int
    dropped_history: int = 0
    dropped_memories: int = 0
    dropped_tool_exchanges: int = 0
    shortened: list[str] = field(default_factory=list)


class ContextWindow:
    """Fits prompts into ``max_tokens`` (minus ``reserve_output`` for the answer)."""

    def __init__(
        self, *, max_tokens: int, reserve_output: int = 0, counter: TokenCounter | None = None
    ) -> None:
        if max_tokens <= reserve_output:
            raise ValidationError(
                f"max_tokens ({max_tokens}) must exceed reserve_output ({reserve_output})", field="max_tokens"
            )
        self.max_tokens = max_tokens
        self.reserve_output = reserve_output
        self.count = counter or estimate_tokens

    @property
    def budget(self) -> int:
        """Tokens available to the prompt."""
        return self.max_tokens - self.reserve_output

    def message_tokens(self, message: Message) -> int:
        """Estimated tokens of one message, tool-call arguments included."""
        total = MESSAGE_OVERHEAD_TOKENS + self.count(message.content or "")
        for call in message.tool_calls:
            total += self.count(call.name) + self.count(call.arguments)
        return total

    def _shorten(self, text: str, tokens: int) -> str:
        """``text`` cut to roughly ``tokens`` tokens, marked as truncated."""
        if tokens <= 0:
            return TRUNCATION_MARK.strip()
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self.count(text[:middle] + TRUNCATION_MARK) <= tokens:
                low = middle
            else:
                high = middle - 1
        return text[:low] + TRUNCATION_MARK

    def fit(
        self,
        *,
        system: str,
        latest: Message,
        tool_exchanges: Sequence[Sequence[Message]] = (),
        memories: Sequence[str] = (),
        history: Sequence[Message] = (),
        memory_heading: str = "Relevant memories:",
    ) -> FittedContext:
        """Assemble ``[system(+memories), *history, latest, *tool_exchanges]`` within the budget.

        ``tool_exchanges`` are (assistant tool-call message, its tool results...) groups of the
        current task, oldest first; ``memories`` are ordered best first; ``history`` oldest first.
        """
        budget = self.budget
        fitted = FittedContext(messages=[], tokens=0)
        system_message = Message(role="system", content=system)
        system_tokens = self.message_tokens(system_message)
        latest_tokens = self.message_tokens(latest)
        if system_tokens + latest_tokens > budget:
            room = budget - 2 * MESSAGE_OVERHEAD_TOKENS
            if room < 2:
                raise ContextWindowTooSmall(
                    f"a context window of {self.max_tokens} tokens cannot hold the system prompt and the "
                    "latest turn",
                    field="max_tokens",
                    max_tokens=self.max_tokens,
                )
            latest_room = max(1, min(self.count(latest.content or ""), room // 2))
            system_room = room - latest_room
            if self.count(system) > system_room:
                system = self._shorten(system, system_room)
                fitted.shortened.append("system")
                system_message = Message(role="system", content=system)
            latest_room = budget - self.message_tokens(system_message) - MESSAGE_OVERHEAD_TOKENS
            if self.count(latest.content or "") > latest_room:
                latest = latest.model_copy(
                    update={"content": self._shorten(latest.content or "", latest_room)}
                )
                fitted.shortened.append("latest")
            system_tokens = self.message_tokens(system_message)
            latest_tokens = self.message_tokens(latest)
        used = system_tokens + latest_tokens

        # Tool exchanges of the current task, newest first.
        kept_exchanges: list[list[Message]] = []
        for exchange in reversed(tool_exchanges):
            messages = list(exchange)
            cost = sum(self.message_tokens(m) for m in messages)
            if used + cost > budget:
                messages = self._shrink_exchange(messages, budget - used)
                if messages:
                    fitted.shortened.append("tool_results")
                    cost = sum(self.message_tokens(m) for m in messages)
            if not messages or used + cost > budget:
                fitted.dropped_tool_exchanges += 1
                continue
            kept_exchanges.insert(0, messages)
            used += cost

        # Memories go into the system message, best first, fenced as quoted data.
        kept_memories: list[str] = []
        heading_cost = self.count(
            "\n\n" + data_notice(MEMORIES_FENCE, "memories") + "\n" + memory_heading + "\n"
        ) + self.count(fenced(MEMORIES_FENCE, []))
        for memory in memories:
            cost = self.count("\n- " + memory) + (heading_cost if not kept_memories else 0)
            if used + cost > budget:
                fitted.dropped_memories += 1
                continue
            kept_memories.append(memory)
            used += cost
        if kept_memories:
            system = (
                system
                + "\n\n"
                + data_notice(MEMORIES_FENCE, "memories")
                + "\n"
                + memory_heading
                + "\n"
                + fenced(MEMORIES_FENCE, ["- " + m for m in kept_memories])
            )
            system_message = Message(role="system", content=system)

        # Older history, newest first, dropped whole.
        kept_history: list[Message] = []
        for message in reversed(history):
            cost = self.message_tokens(message)
            if used + cost > budget:
                fitted.dropped_history += 1
                continue
            kept_history.insert(0, message)
            used += cost
        fitted.dropped_history = len(history) - len(kept_history)

        fitted.messages = [system_message, *kept_history, latest, *(m for ex in kept_exchanges for m in ex)]
        fitted.tokens = sum(self.message_tokens(m) for m in fitted.messages)
        return fitted

    def _shrink_exchange(self, messages: list[Message], room: int) -> list[Message]:
        """Shorten the tool results of one exchange so the whole fits ``room`` (or return [])."""
        fixed = sum(self.message_tokens(m) for m in messages if m.role != "tool")
        results = [m for m in messages if m.role == "tool"]
        if not results:
            return []
        per_result = (room - fixed) // len(results) - MESSAGE_OVERHEAD_TOKENS
        if per_result < 8:
            return []
        shrunk = []
        for message in messages:
            if message.role == "tool" and self.count(message.content or "") > per_result:
                message = message.model_copy(
                    update={"content": self._shorten(message.content or "", per_result)}
                )
            shrunk.append(message)
        return shrunk
