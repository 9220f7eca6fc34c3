"""The token/cost ledger one task shares with every sub-task it delegates."""

from __future__ import annotations

from motadata_ai.domain.values.agents import BudgetLimit


class Budget:
    """Spending so far against a :class:`BudgetLimit`; pass the same instance to sub-tasks.

    Agents charge it after every model call and check it before the next one, so a tree of
    delegated tasks stops as a whole when the shared budget is gone.
    """

    def __init__(
        self, limit: BudgetLimit | None = None, *, spent_tokens: int = 0, spent_cost_usd: float = 0.0
    ) -> None:
        self.limit = limit or BudgetLimit()
        self.spent_tokens = spent_tokens
        self.spent_cost_usd = spent_cost_usd

    @classmethod
    def of(cls, max_tokens: int | None = None, max_cost_usd: float | None = None) -> Budget:
        """A fresh ledger with these limits."""
        return cls(BudgetLimit(max_tokens=max_tokens, max_cost_usd=max_cost_usd))

    def charge(self, *, tokens: int, cost_usd: float) -> None:
        """Add one call's usage."""
        self.spent_tokens += max(0, tokens)
        self.spent_cost_usd += max(0.0, cost_usd)

    @property
    def exceeded(self) -> str | None:
        """``"tokens"`` or ``"cost"`` when spending went past that limit, else ``None``."""
        if self.limit.max_tokens is not None and self.spent_tokens > self.limit.max_tokens:
            return "tokens"
        if self.limit.max_cost_usd is not None and self.spent_cost_usd > self.limit.max_cost_usd:
            return "cost"
        return None

    @property
    def exhausted(self) -> str | None:
        """``"tokens"`` or ``"cost"`` when nothing of that limit is left, else ``None``."""
        if self.limit.max_tokens is not None and self.spent_tokens >= self.limit.max_tokens:
            return "tokens"
        if self.limit.max_cost_usd is not None and self.spent_cost_usd >= self.limit.max_cost_usd:
            return "cost"
        return None

    def remaining(self) -> BudgetLimit:
        """What is left, as a limit for a sub-task run elsewhere (over the bus)."""
        tokens = cost = None
        if self.limit.max_tokens is not None:
            tokens = max(1, self.limit.max_tokens - self.spent_tokens)
        if self.limit.max_cost_usd is not None:
            cost = max(1e-12, self.limit.max_cost_usd - self.spent_cost_usd)
        return BudgetLimit(max_tokens=tokens, max_cost_usd=cost)

    def __repr__(self) -> str:
        return (
            f"Budget(spent_tokens={self.spent_tokens}, spent_cost_usd={self.spent_cost_usd:.6f}, "
            f"limit={self.limit!r})"
        )
