"""Feedback on answers: a user's rating and comment against a response the tenant received.

It sits next to the ledger step because the ledger is what it checks against: a response id is
only known once its usage record has been written, so the pending records are flushed first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from motadata_ai.domain.values.errors import NotFound, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import FeedbackRecord
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["FeedbackDesk"]


class FeedbackDesk:
    """Records feedback in the usage ledger (``flush`` writes the pending usage records first)."""

    def __init__(self, ledger: UsageLedgerPort | None, *, flush: Callable[[], Awaitable[None]]) -> None:
        self._ledger = ledger
        self._flush = flush

    async def record(
        self, context: TenantContext, response_id: str, *, rating: int, comment: str
    ) -> FeedbackRecord:
        """Record ``rating`` (1-5) and ``comment`` by ``context``'s user on ``response_id``.

        :class:`NotFound` without a ledger or when the tenant has no such response;
        :class:`ValidationError` for a rating outside 1-5.
        """
        if self._ledger is None:
            raise NotFound(
                "no usage ledger is configured, so there is nothing to give feedback on",
                response_id=response_id,
                tenant_id=context.tenant_id,
            )
        try:
            feedback = FeedbackRecord(
                tenant_id=context.tenant_id,
                response_id=response_id,
                user_id=context.user_id,
                rating=rating,
                comment=comment,
            )
        except ValueError as error:
            raise ValidationError(
                f"invalid feedback: {error}", field="rating", tenant_id=context.tenant_id
            ) from error
        await self._flush()
        await self._ledger.record_feedback(feedback)
        return feedback
