"""Guardrail steps: input checks before the provider, output checks on its answer, one audit sink.

:class:`InputGuardrails` (size, PII redaction, injection screening) runs before budgets and
limits, so a refused prompt costs nothing. :class:`OutputGuardrails` (content filter, PII, JSON
schema) runs inside the de-duplication step, so identical concurrent calls share one check and
one audit event. A blocked answer is raised as :class:`GuardrailViolation` carrying the response
(the ledger charges it; it is never returned or cached). Every event goes to :class:`AuditSink`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.errors import GuardrailViolation
from motadata_ai.domain.gateway.steps.base import NextComplete, NextStream, Step
from motadata_ai.domain.guardrails import LEVELS, ResponseSchema, check_input, check_output
from motadata_ai.domain.guardrails.context import ContextCheck, ContextGuard, ContextOrigin
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, StreamChunk
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import AuditEvent
from motadata_ai.ports.ledger import AuditLogPort
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["AuditSink", "InputGuardrails", "OutputGuardrails"]

log = logging.getLogger("motadata_ai.gateway")


class AuditSink:
    """Where guardrail events go: the log, a telemetry counter and the audit log (never failing)."""

    def __init__(self, audit: AuditLogPort | None, telemetry: TelemetryPort | None) -> None:
        self._audit = audit
        self._telemetry = telemetry

    async def event(
        self,
        context: TenantContext,
        kind: Any,
        stage: Any,
        level: str,
        model: str | None,
        reasons: Sequence[str],
        details: dict[str, Any],
    ) -> None:
        """Record one guardrail event for ``context``'s tenant and user."""
        log.info("guardrail %s (%s, %s) for tenant %s: %s", kind, stage, level, context.tenant_id, reasons)
        if self._telemetry is not None:
            self._telemetry.add_counter("motadata.gateway.guardrail.events", 1, attributes={"kind": kind})
        if self._audit is None:
            return
        event = AuditEvent(
            tenant_id=context.tenant_id,
            user_id=context.user_id,
            kind=kind,
            stage=stage,
            level=level,
            model=model,
            reasons=tuple(reasons),
            details=details,
        )
        try:
            await self._audit.write(event)
        except Exception as error:  # the audit log must not take the call down
            log.warning("audit log write failed: %s", error)

    async def guarded(
        self,
        context: TenantContext,
        level: str,
        texts: Sequence[str],
        *,
        origin: ContextOrigin,
        model: str | None,
    ) -> ContextCheck:
        """Guard untrusted text a prompt will quote at ``level``, recording each event with ``origin``."""
        checked = ContextGuard.for_level(level).check(texts, origin=origin)
        if checked.injection_matches:
            scores = [g.injection_score for g in checked.texts if g.injection_score]
            details = {
                "origin": origin,
                "dropped": checked.count("dropped"),
                "flagged": checked.count("flagged"),
                "injection_scores": scores,
            }
            matches = list(checked.injection_matches)
            await self.event(context, "injection_suspected", "input", level, model, matches, details)
        if checked.redacted:
            await self.redacted(context, "input", level, model, checked.redacted, origin=origin)
        return checked

    async def redacted(
        self, context: TenantContext, stage: Any, level: str, model: str | None, counts: Any, **details: Any
    ) -> None:
        """Record a PII redaction (``counts``: how many of each kind)."""
        await self.event(
            context, "pii_redacted", stage, level, model, sorted(counts), {"counts": counts, **details}
        )


class InputGuardrails(Step):
    """Refuse or redact the prompt at the call's level, auditing each event."""

    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    async def complete(self, call: Call, request: ChatRequest, next: NextComplete) -> ChatResponse:
        """Check the prompt, then complete the (possibly redacted) request."""
        return await next(call, await self._check(call, request))

    async def stream(self, call: Call, request: ChatRequest, next: NextStream) -> AsyncIterator[StreamChunk]:
        """Check the prompt, then stream the (possibly redacted) request."""
        async for chunk in next(call, await self._check(call, request)):
            yield chunk

    async def _check(self, call: Call, request: ChatRequest) -> ChatRequest:
        level, context = call.level, call.tenant
        checked = check_input(request.messages, LEVELS[level], max_input_chars=call.policy.max_input_chars)
        if checked.violations:
            await self._sink.event(
                context,
                "guardrail_violation",
                "input",
                level,
                request.model,
                checked.violations,
                {"redacted": checked.redacted, "injection_score": checked.injection_score},
            )
            raise _refused("input", checked.violations, level, context.tenant_id, request.model)
        if checked.injection_score:
            await self._sink.event(
                context,
                "injection_suspected",
                "input",
                level,
                request.model,
                list(checked.injection_matches),
                {"injection_score": checked.injection_score},
            )
        if checked.redacted:
            await self._sink.redacted(context, "input", level, request.model, checked.redacted)
            return request.model_copy(update={"messages": checked.messages})
        return request


class OutputGuardrails(Step):
    """Check the provider's answer at the call's level: block (raise) or redact it."""

    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    async def complete(self, call: Call, request: ChatRequest, next: NextComplete) -> ChatResponse:
        """Complete, then check the answer against the call's level and schema."""
        response = await next(call, request)
        return await self._check(call, request, response, call.options.response_schema)

    async def stream(self, call: Call, request: ChatRequest, next: NextStream) -> AsyncIterator[StreamChunk]:
        """Stream, then check the whole text: a violation ends the stream with the error."""
        async for chunk in next(call, request):
            yield chunk
        response = call.state.response
        if response is not None:
            call.state.response = await self._check(call, request, response, None)

    async def _check(
        self, call: Call, request: ChatRequest, response: ChatResponse, schema: ResponseSchema | None
    ) -> ChatResponse:
        level, policy = call.level, call.policy
        rules = LEVELS[level]
        response_format = request.response_format
        json_required = schema is not None or (
            response_format is not None and response_format.get("type") in ("json_object",)
        )
        if schema is None and response_format and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, dict) else None
            json_required = True
        if (
            not rules.content_filter
            and not rules.output_pii
            and not json_required
            and not policy.blocked_output_terms
        ):
            return response
        checked = check_output(
            response.text,
            rules,
            schema=schema,
            json_required=json_required and not response.message.tool_calls,
            blocked_terms=policy.blocked_output_terms,
        )
        if checked.violations:
            await self._sink.event(
                call.tenant,
                "guardrail_violation",
                "output",
                level,
                response.model,
                checked.violations,
                {"response_id": response.id},
            )
            call.state.attempts.append({"model": response.model, "blocked": True})
            error = _refused(
                "output", checked.violations, level, call.tenant_id, response.model, response_id=response.id
            )
            error.fields["response"] = response  # charged in the ledger, never returned or cached
            raise error
        if checked.redacted:
            await self._sink.redacted(
                call.tenant, "output", level, response.model, checked.redacted, response_id=response.id
            )
            message = response.message.model_copy(update={"content": checked.text})
            return response.model_copy(update={"message": message})
        return response


def _refused(
    stage: Literal["input", "output"],
    reasons: Sequence[str],
    level: str,
    tenant_id: str,
    model: str,
    **fields: Any,
) -> GuardrailViolation:
    return GuardrailViolation(
        f"{stage} refused by guardrails: " + "; ".join(reasons),
        reasons=list(reasons),
        stage=stage,
        level=level,
        tenant_id=tenant_id,
        model=model,
        **fields,
    )
