"""PostgresUsageLedger and PostgresAuditLog: usage, feedback and guardrail events in PostgreSQL.

Tables (component ``ledger`` of :meth:`PostgresDatabase.apply_migrations`):

* ``motadata_usage`` — one row per gateway call, indexed by ``(tenant_id, created_at)``, by
  ``(tenant_id, response_id)`` and (migration 3, which added the request id, use-case, purpose and
  request fingerprint) by ``(tenant_id, request_id)`` and ``(tenant_id, fingerprint)``;
* ``motadata_feedback`` — ratings against responses;
* ``motadata_audit_log`` — the audit trail (:class:`AuditEvent`: timestamp, tenant, user, action,
  resource, result, metadata, trace id), indexed by ``(tenant_id, timestamp)``, ``(tenant_id,
  user_id)`` and ``(tenant_id, action)``. A trigger refuses every ``UPDATE`` and ``DELETE`` unless
  the transaction sets ``motadata.audit_maintenance`` to ``on``, which only
  :meth:`PostgresAuditLog.pseudonymise_user` (erasure) and :meth:`PostgresAuditLog.delete_before`
  (retention) do. Migration 2 moved the guardrail events of ``motadata_audit_events`` into it.

Every statement filters on ``tenant_id``; days are UTC calendar days.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from motadata_ai.adapters.postgres.database import HotStatement, MigratedStore
from motadata_ai.domain.values.errors import NotFound
from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import (
    ArmSummary,
    AuditEvent,
    AuditQuery,
    BudgetAlert,
    CacheSavings,
    FeedbackRecord,
    UsageRecord,
    UsageSummary,
)
from motadata_ai.domain.values.usage_report import (
    GroupBy,
    ModelRating,
    RepeatedRequest,
    UsageReport,
    UsageReportRow,
    check_group_by,
)
from motadata_ai.ports.ledger import AuditLogPort, LedgerError, LedgerUnavailable, UsageLedgerPort

__all__ = ["MIGRATIONS", "PostgresAuditLog", "PostgresUsageLedger"]

MIGRATIONS = [
    (
        1,
        "usage, feedback and audit events",
        """
        CREATE TABLE IF NOT EXISTS motadata_usage (
            id text PRIMARY KEY,
            tenant_id text NOT NULL,
            user_id text,
            operation text NOT NULL,
            model text NOT NULL,
            provider text NOT NULL DEFAULT '',
            input_tokens bigint NOT NULL DEFAULT 0,
            output_tokens bigint NOT NULL DEFAULT 0,
            cost_usd double precision NOT NULL DEFAULT 0,
            saved_usd double precision NOT NULL DEFAULT 0,
            latency_ms double precision NOT NULL DEFAULT 0,
            source text NOT NULL,
            outcome text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            error text,
            response_id text,
            created_at timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_time ON motadata_usage (tenant_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_response
            ON motadata_usage (tenant_id, response_id) WHERE response_id IS NOT NULL;
        CREATE TABLE IF NOT EXISTS motadata_feedback (
            id text PRIMARY KEY,
            tenant_id text NOT NULL,
            response_id text NOT NULL,
            user_id text,
            rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
            comment text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS motadata_feedback_tenant_response
            ON motadata_feedback (tenant_id, response_id);
        CREATE TABLE IF NOT EXISTS motadata_audit_events (
            id text PRIMARY KEY,
            tenant_id text NOT NULL,
            user_id text,
            kind text NOT NULL,
            stage text NOT NULL,
            level text NOT NULL,
            model text,
            reasons text[] NOT NULL DEFAULT '{}',
            details jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS motadata_audit_tenant_time
            ON motadata_audit_events (tenant_id, created_at DESC);
        """,
    ),
    (
        2,
        "audit trail in the fixed format, append-only; per-user indexes",
        """
        CREATE TABLE IF NOT EXISTS motadata_audit_log (
            id text PRIMARY KEY,
            "timestamp" timestamptz NOT NULL,
            tenant_id text NOT NULL,
            user_id text,
            action text NOT NULL,
            resource text NOT NULL DEFAULT '',
            result text NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
            metadata jsonb NOT NULL DEFAULT '{}',
            trace_id text
        );
        INSERT INTO motadata_audit_log
                (id, "timestamp", tenant_id, user_id, action, resource, result, metadata)
            SELECT id, created_at, tenant_id, user_id, 'guardrail.' || kind, coalesce(model, ''),
                   CASE WHEN kind = 'guardrail_violation' THEN 'denied' ELSE 'success' END,
                   jsonb_build_object('stage', stage, 'level', level, 'model', model,
                                      'reasons', to_jsonb(reasons), 'details', details)
            FROM motadata_audit_events
            ON CONFLICT (id) DO NOTHING;
        DROP TABLE motadata_audit_events;
        CREATE INDEX IF NOT EXISTS motadata_audit_log_tenant_time
            ON motadata_audit_log (tenant_id, "timestamp" DESC);
        CREATE INDEX IF NOT EXISTS motadata_audit_log_tenant_user
            ON motadata_audit_log (tenant_id, user_id) WHERE user_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS motadata_audit_log_tenant_action
            ON motadata_audit_log (tenant_id, action, "timestamp" DESC);
        CREATE OR REPLACE FUNCTION motadata_audit_append_only() RETURNS trigger AS $$
        BEGIN
            IF current_setting('motadata.audit_maintenance', true) IS DISTINCT FROM 'on' THEN
                RAISE EXCEPTION 'motadata_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS motadata_audit_log_append_only ON motadata_audit_log;
        CREATE TRIGGER motadata_audit_log_append_only BEFORE UPDATE OR DELETE ON motadata_audit_log
            FOR EACH ROW EXECUTE FUNCTION motadata_audit_append_only();
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_user
            ON motadata_usage (tenant_id, user_id) WHERE user_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS motadata_feedback_tenant_user
            ON motadata_feedback (tenant_id, user_id) WHERE user_id IS NOT NULL;
        """,
    ),
    (
        3,
        "usage attribution: request, use-case, purpose and request fingerprint",
        """
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS request_id text;
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS use_case text;
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS purpose text;
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS fingerprint text;
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_request
            ON motadata_usage (tenant_id, request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_fingerprint
            ON motadata_usage (tenant_id, fingerprint) WHERE fingerprint IS NOT NULL;
        """,
    ),
    (
        4,
        "budget alerts claimed once; experiment and arm of each call",
        """
        CREATE TABLE IF NOT EXISTS motadata_budget_alerts (
            tenant_id text NOT NULL,
            budget text NOT NULL,
            period text NOT NULL CHECK (period IN ('daily', 'monthly')),
            period_start timestamptz NOT NULL,
            threshold double precision NOT NULL,
            limit_usd double precision NOT NULL,
            spent_usd double precision NOT NULL,
            user_id text,
            model text,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, budget, period, period_start, threshold)
        );
        CREATE INDEX IF NOT EXISTS motadata_budget_alerts_tenant_time
            ON motadata_budget_alerts (tenant_id, created_at DESC);
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS experiment text;
        ALTER TABLE motadata_usage ADD COLUMN IF NOT EXISTS arm text;
        CREATE INDEX IF NOT EXISTS motadata_usage_tenant_experiment
            ON motadata_usage (tenant_id, experiment, created_at) WHERE experiment IS NOT NULL;
        """,
    ),
]

_ALERT_COLUMNS = (
    "tenant_id, budget, period, period_start, threshold, limit_usd, spent_usd, user_id, model, created_at"
)

_AUDIT_COLUMNS = 'id, "timestamp", tenant_id, user_id, action, resource, result, metadata, trace_id'


_USAGE_COLUMNS = (
    "id, tenant_id, user_id, operation, model, provider, input_tokens, output_tokens, cost_usd, saved_usd, "
    "latency_ms, source, outcome, attempts, error, response_id, created_at, request_id, use_case, purpose, "
    "fingerprint, experiment, arm"
)
_USAGE_INSERT = (
    f"INSERT INTO motadata_usage ({_USAGE_COLUMNS}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_USAGE_COLUMNS.split(',')) + 1))}) "
    "ON CONFLICT (id) DO NOTHING"
)
_AUDIT_INSERT = (
    f"INSERT INTO motadata_audit_log ({_AUDIT_COLUMNS}) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) ON CONFLICT (id) DO NOTHING"
)
_HIT = "source IN ('cache', 'semantic_cache', 'dedup')"
_DAY = "(created_at AT TIME ZONE 'UTC')::date"


def _tenant_id(tenant: TenantContext | str) -> str:
    return TenantContext.of(tenant).tenant_id



def _usage_row(record: UsageRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.tenant_id,
        record.user_id,
        record.operation,
        record.model,
        record.provider,
        record.input_tokens,
        record.output_tokens,
        record.cost_usd,
        record.saved_usd,
        record.latency_ms,
        record.source,
        record.outcome,
        record.attempts,
        record.error,
        record.response_id,
        aware(record.created_at),
        record.request_id,
        record.use_case,
        record.purpose,
        record.fingerprint,
        record.experiment,
        record.arm,
    )


def _range(start: date | None, end: date | None, first: int) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if start is not None:
        args.append(start)
        clauses.append(f"{_DAY} >= ${first + len(args) - 1}")
    if end is not None:
        args.append(end)
        clauses.append(f"{_DAY} <= ${first + len(args) - 1}")
    return "".join(f" AND {c}" for c in clauses), args


_GROUP_KEYS: dict[str, str] = {
    "model": "model",
    "user": "user_id",
    "operation": "coalesce(use_case, operation)",
    "day": f"to_char({_DAY}, 'YYYY-MM-DD')",
}


def _period(since: datetime | None, until: datetime | None, first: int) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for value, operator in ((since, ">="), (until, "<")):
        if value is not None:
            args.append(aware(value))
            clauses.append(f"created_at {operator} ${first + len(args) - 1}")
    return "".join(f" AND {c}" for c in clauses), args


def _report_row(row: Any) -> UsageReportRow:
    return UsageReportRow(
        key=None if row["is_total"] else row["key"],
        calls=row["calls"],
        cache_hits=row["cache_hits"],
        errors=row["errors"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=row["cost_usd"],
        saved_usd=row["saved_usd"],
        latency_p50_ms=row["latency_p50_ms"],
        latency_p95_ms=row["latency_p95_ms"],
    )


class _Tables(MigratedStore):
    """Shared set-up of the ledger tables."""

    component = "ledger"
    migrations = MIGRATIONS
    unavailable = LedgerUnavailable
    failure = LedgerError


class PostgresUsageLedger(_Tables, UsageLedgerPort):
    """The usage ledger on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    async def record_usage(self, record: UsageRecord) -> None:
        """Insert one record (an existing id is left as it is)."""
        await self.record_usage_many([record])

    async def record_usage_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert several records in one round trip."""
        if not records:
            return
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=records[0].tenant_id):
            async with self._db.pool.acquire() as conn:
                await conn.executemany(_USAGE_INSERT, [_usage_row(r) for r in records])

    def hot_statements(self, probe_tenant: str) -> tuple[HotStatement, ...]:
        """The statement every gateway call runs (the usage insert, prepared only), for
        :meth:`~motadata_ai.adapters.postgres.database.PostgresDatabase.prepare_statements`."""
        return (HotStatement(_USAGE_INSERT),)

    async def record_feedback(self, feedback: FeedbackRecord) -> None:
        """Insert the rating when the tenant has the response, else raise NotFound."""
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=feedback.tenant_id):
            async with self._db.pool.acquire() as conn:
                status = await conn.execute(
                    "INSERT INTO motadata_feedback "
                    "(id, tenant_id, response_id, user_id, rating, comment, created_at) "
                    "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS "
                    "(SELECT 1 FROM motadata_usage WHERE tenant_id = $2 AND response_id = $3)",
                    feedback.id,
                    feedback.tenant_id,
                    feedback.response_id,
                    feedback.user_id,
                    feedback.rating,
                    feedback.comment,
                    aware(feedback.created_at),
                )
        if status.endswith(" 0"):
            raise NotFound(
                f"tenant {feedback.tenant_id} has no response {feedback.response_id!r}",
                tenant_id=feedback.tenant_id,
                response_id=feedback.response_id,
            )

    async def _fetch(self, tenant_id: str, query: str, *args: Any) -> list[Any]:
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(query, *args))

    async def usage_records(
        self,
        *,
        tenant: TenantContext | str,
        limit: int = 100,
        user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[UsageRecord]:
        """Newest first."""
        tenant_id = _tenant_id(tenant)
        args: list[Any] = [tenant_id, max(0, limit)]
        clauses = ""
        for column, value in (("user_id", user_id), ("request_id", request_id)):
            if value is not None:
                args.append(value)
                clauses += f" AND {column} = ${len(args)}"
        rows = await self._fetch(
            tenant_id,
            f"SELECT {_USAGE_COLUMNS} FROM motadata_usage WHERE tenant_id = $1{clauses} "
            "ORDER BY created_at DESC, id LIMIT $2",
            *args,
        )
        return [UsageRecord(**dict(row)) for row in rows]

    async def usage_report(
        self,
        *,
        tenant: TenantContext | str,
        group_by: GroupBy,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        """Grouped in SQL: one query, the groups and the total (``GROUPING SETS``), with
        ``percentile_cont`` latencies."""
        tenant_id = _tenant_id(tenant)
        key = _GROUP_KEYS[check_group_by(group_by)]
        where, args = _period(since, until, 2)
        rows = await self._fetch(
            tenant_id,
            f"SELECT {key} AS key, grouping({key}) AS is_total, count(*) AS calls, "
            f"count(*) FILTER (WHERE {_HIT}) AS cache_hits, "
            "count(*) FILTER (WHERE outcome <> 'ok') AS errors, "
            "coalesce(sum(input_tokens), 0) AS input_tokens, "
            "coalesce(sum(output_tokens), 0) AS output_tokens, "
            "coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(saved_usd), 0) AS saved_usd, "
            "coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), 0) AS latency_p50_ms, "
            "coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), 0) AS latency_p95_ms "
            f"FROM motadata_usage WHERE tenant_id = $1{where} "
            f'GROUP BY GROUPING SETS (({key}), ()) ORDER BY grouping({key}), {key} COLLATE "C" NULLS LAST',
            tenant_id,
            *args,
        )
        groups = [_report_row(row) for row in rows if not row["is_total"]]
        totals = [_report_row(row) for row in rows if row["is_total"]]
        return UsageReport(
            tenant_id=tenant_id,
            group_by=group_by,
            since=since,
            until=until,
            rows=tuple(groups),
            total=totals[0] if totals else UsageReportRow(),
        )

    async def repeated_requests(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
        min_calls: int = 2,
        limit: int = 20,
    ) -> list[RepeatedRequest]:
        """Grouped in SQL by fingerprint and model."""
        tenant_id = _tenant_id(tenant)
        where, args = _period(since, until, 4)
        rows = await self._fetch(
            tenant_id,
            "SELECT fingerprint, model, count(*) AS calls, "
            "count(*) FILTER (WHERE source = 'provider') AS paid, coalesce(sum(cost_usd), 0) AS cost_usd "
            "FROM motadata_usage WHERE tenant_id = $1 AND fingerprint IS NOT NULL AND outcome = 'ok'"
            f"{where} GROUP BY fingerprint, model HAVING count(*) >= $2 "
            "ORDER BY CASE WHEN count(*) FILTER (WHERE source = 'provider') > 1 THEN "
            "sum(cost_usd) * (count(*) FILTER (WHERE source = 'provider') - 1) "
            "/ count(*) FILTER (WHERE source = 'provider') ELSE 0 END DESC, "
            "count(*) DESC, fingerprint LIMIT $3",
            tenant_id,
            max(1, min_calls),
            max(0, limit),
            *args,
        )
        return [RepeatedRequest(**dict(row)) for row in rows]

    async def model_feedback(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[ModelRating]:
        """Joined in SQL: each model's distinct responses in the period and their feedback."""
        tenant_id = _tenant_id(tenant)
        where, args = _period(since, until, 2)
        rows = await self._fetch(
            tenant_id,
            "SELECT u.model, count(*) AS n, avg(f.rating)::float8 AS mean FROM motadata_feedback f "
            "JOIN (SELECT DISTINCT model, response_id FROM motadata_usage WHERE tenant_id = $1 "
            f"AND response_id IS NOT NULL{where}) u ON u.response_id = f.response_id "
            "WHERE f.tenant_id = $1 GROUP BY u.model ORDER BY u.model",
            tenant_id,
            *args,
        )
        return [
            ModelRating(model=row["model"], feedback_count=row["n"], mean_rating=row["mean"]) for row in rows
        ]

    async def feedback(self, *, tenant: TenantContext | str, response_id: str) -> list[FeedbackRecord]:
        """Oldest first."""
        tenant_id = _tenant_id(tenant)
        rows = await self._fetch(
            tenant_id,
            "SELECT id, tenant_id, response_id, user_id, rating, comment, created_at FROM motadata_feedback "
            "WHERE tenant_id = $1 AND response_id = $2 ORDER BY created_at, id",
            tenant_id,
            response_id,
        )
        return [FeedbackRecord(**dict(row)) for row in rows]

    async def _summaries(
        self, tenant: TenantContext | str, group: str, start: date | None, end: date | None
    ) -> list[UsageSummary]:
        tenant_id = _tenant_id(tenant)
        where, args = _range(start, end, 2)
        rows = await self._fetch(
            tenant_id,
            f"SELECT {group} AS key, count(*) AS calls, count(*) FILTER (WHERE {_HIT}) AS cache_hits, "
            "coalesce(sum(input_tokens), 0) AS input_tokens, "
            "coalesce(sum(output_tokens), 0) AS output_tokens, "
            "coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(saved_usd), 0) AS saved_usd "
            f"FROM motadata_usage WHERE tenant_id = $1{where} GROUP BY 1 ORDER BY 1",
            tenant_id,
            *args,
        )
        by_day = group == _DAY
        return [
            UsageSummary(
                tenant_id=tenant_id,
                day=row["key"] if by_day else None,
                model=None if by_day else row["key"],
                calls=row["calls"],
                cache_hits=row["cache_hits"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                saved_usd=row["saved_usd"],
            )
            for row in rows
        ]

    async def usage_by_day(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Per UTC day, oldest first."""
        return await self._summaries(tenant, _DAY, start, end)

    async def usage_by_model(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Per model, by name."""
        return await self._summaries(tenant, "model", start, end)

    async def cache_savings(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> CacheSavings:
        """Hits, calls and what the hits saved."""
        tenant_id = _tenant_id(tenant)
        where, args = _range(start, end, 2)
        rows = await self._fetch(
            tenant_id,
            f"SELECT count(*) AS calls, count(*) FILTER (WHERE {_HIT}) AS hits, "
            f"coalesce(sum(saved_usd) FILTER (WHERE {_HIT}), 0) AS saved "
            f"FROM motadata_usage WHERE tenant_id = $1{where}",
            tenant_id,
            *args,
        )
        row = rows[0]
        return CacheSavings(tenant_id=tenant_id, calls=row["calls"], hits=row["hits"], saved_usd=row["saved"])

    async def spend(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime,
        user_id: str | None = None,
        model: str | None = None,
    ) -> float:
        """Provider cost since ``since``, of a user and/or a model."""
        tenant_id = _tenant_id(tenant)
        args: list[Any] = [tenant_id, aware(since)]
        where = ""
        for column, value in (("user_id", user_id), ("model", model)):
            if value is not None:
                args.append(value)
                where += f" AND {column} = ${len(args)}"
        rows = await self._fetch(
            tenant_id,
            "SELECT coalesce(sum(cost_usd), 0) AS spent FROM motadata_usage "
            f"WHERE tenant_id = $1 AND created_at >= $2{where}",
            *args,
        )
        return float(rows[0]["spent"])

    async def claim_budget_alert(self, alert: BudgetAlert) -> bool:
        """``INSERT ... ON CONFLICT DO NOTHING``: the one insert that lands wins the claim."""
        tenant_id = alert.tenant_id
        status = await self._execute(
            tenant_id,
            f"INSERT INTO motadata_budget_alerts ({_ALERT_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            tenant_id,
            alert.budget,
            alert.period,
            aware(alert.period_start),
            alert.threshold,
            alert.limit_usd,
            alert.spent_usd,
            alert.user_id,
            alert.model,
            aware(alert.created_at),
        )
        return status == 1

    async def budget_alerts(
        self, *, tenant: TenantContext | str, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """Newest first."""
        tenant_id = _tenant_id(tenant)
        rows = await self._fetch(
            tenant_id,
            f"SELECT {_ALERT_COLUMNS} FROM motadata_budget_alerts WHERE tenant_id = $1 "
            "AND ($3::timestamptz IS NULL OR created_at >= $3) "
            "ORDER BY created_at DESC, threshold DESC LIMIT $2",
            tenant_id,
            max(0, limit),
            aware(since) if since is not None else None,
        )
        return [BudgetAlert(**dict(row)) for row in rows]

    async def experiment_arms(
        self,
        *,
        tenant: TenantContext | str,
        experiment: str,
        since: datetime,
        until: datetime | None = None,
    ) -> list[ArmSummary]:
        """Per arm, champion first: one query over the arm's records and one over its feedback."""
        tenant_id = _tenant_id(tenant)
        selected = (
            "FROM motadata_usage WHERE tenant_id = $1 AND experiment = $2 AND arm IS NOT NULL "
            "AND created_at >= $3 AND ($4::timestamptz IS NULL OR created_at < $4)"
        )
        args = (tenant_id, experiment, aware(since), aware(until) if until is not None else None)
        rows = await self._fetch(
            tenant_id,
            "SELECT arm, count(*) AS calls, coalesce(sum(cost_usd), 0) AS cost_usd, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, "
            f"count(*) FILTER (WHERE outcome <> 'ok') AS errors {selected} GROUP BY arm",
            *args,
        )
        ratings = await self._fetch(
            tenant_id,
            "SELECT u.arm, count(*) AS n, avg(f.rating)::float8 AS mean FROM motadata_feedback f "
            f"JOIN (SELECT DISTINCT arm, response_id {selected} AND response_id IS NOT NULL) u "
            "ON u.response_id = f.response_id WHERE f.tenant_id = $1 GROUP BY u.arm",
            *args,
        )
        feedback = {row["arm"]: (row["n"], row["mean"]) for row in ratings}
        by_arm = {row["arm"]: row for row in rows}
        return [
            ArmSummary(
                arm=arm,
                calls=row["calls"],
                cost_usd=row["cost_usd"],
                latency_p50_ms=row["p50"],
                latency_p95_ms=row["p95"],
                errors=row["errors"],
                feedback_count=feedback.get(arm, (0, None))[0],
                mean_rating=feedback.get(arm, (0, None))[1],
            )
            for arm in ("champion", "challenger")
            if (row := by_arm.get(arm)) is not None
        ]

    async def user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> list[FeedbackRecord]:
        """Oldest first."""
        tenant_id = _tenant_id(tenant)
        rows = await self._fetch(
            tenant_id,
            "SELECT id, tenant_id, response_id, user_id, rating, comment, created_at FROM motadata_feedback "
            "WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id",
            tenant_id,
            user_id,
        )
        return [FeedbackRecord(**dict(row)) for row in rows]

    async def _execute(self, tenant_id: str, statement: str, *args: Any) -> int:
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn:
                status = await conn.execute(statement, *args)
        return int(status.rsplit(" ", 1)[-1])

    async def delete_user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> int:
        """Delete the user's feedback rows."""
        tenant_id = _tenant_id(tenant)
        return await self._execute(
            tenant_id,
            "DELETE FROM motadata_feedback WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
        )

    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Rewrite ``user_id`` on the tenant's usage rows (and on its budget alerts)."""
        tenant_id = _tenant_id(tenant)
        changed = await self._execute(
            tenant_id,
            "UPDATE motadata_usage SET user_id = $3 WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
            pseudonym,
        )
        await self._execute(
            tenant_id,
            "UPDATE motadata_budget_alerts SET user_id = $3, budget = replace(budget, 'user:' || $2, "
            "'user:' || $3) WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
            pseudonym,
        )
        return changed

    async def delete_usage_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Delete old usage rows and the feedback on their responses, in one transaction."""
        tenant_id = _tenant_id(tenant)
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "DELETE FROM motadata_feedback f WHERE f.tenant_id = $1 AND f.response_id IN "
                    "(SELECT response_id FROM motadata_usage WHERE tenant_id = $1 AND created_at < $2 "
                    "AND response_id IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM motadata_usage u "
                    "WHERE u.tenant_id = $1 AND u.response_id = f.response_id AND u.created_at >= $2)",
                    tenant_id,
                    aware(cutoff),
                )
                status = await conn.execute(
                    "DELETE FROM motadata_usage WHERE tenant_id = $1 AND created_at < $2",
                    tenant_id,
                    aware(cutoff),
                )
                await conn.execute(
                    "DELETE FROM motadata_budget_alerts WHERE tenant_id = $1 AND created_at < $2",
                    tenant_id,
                    aware(cutoff),
                )
        return int(status.rsplit(" ", 1)[-1])

    async def ping(self) -> bool:
        """``True`` when PostgreSQL answers."""
        with self._db.translate_errors(LedgerUnavailable, LedgerError):
            async with self._db.pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)


def _audit_row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        event.id,
        aware(event.timestamp),
        event.tenant_id,
        event.user_id,
        event.action,
        event.resource,
        event.result,
        json.dumps(event.metadata, default=str),
        event.trace_id,
    )


class PostgresAuditLog(_Tables, AuditLogPort):
    """The audit trail on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    async def write(self, event: AuditEvent) -> None:
        """Insert one event."""
        await self.write_many([event])

    async def write_many(self, events: Sequence[AuditEvent]) -> None:
        """Insert several events in one round trip (existing ids are left as they are)."""
        if not events:
            return
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=events[0].tenant_id):
            async with self._db.pool.acquire() as conn:
                await conn.executemany(_AUDIT_INSERT, [_audit_row(e) for e in events])

    def hot_statements(self, probe_tenant: str) -> tuple[HotStatement, ...]:
        """The statement every audited request runs (the event insert, prepared only), for
        :meth:`~motadata_ai.adapters.postgres.database.PostgresDatabase.prepare_statements`."""
        return (HotStatement(_AUDIT_INSERT),)

    async def query(self, *, tenant: TenantContext | str, query: AuditQuery) -> list[AuditEvent]:
        """Newest first."""
        tenant_id = _tenant_id(tenant)
        await self.setup()
        clauses: list[str] = []
        args: list[Any] = [tenant_id, query.limit]
        for column, operator, value in (
            ('"timestamp"', ">=", aware(query.since) if query.since else None),
            ('"timestamp"', "<", aware(query.until) if query.until else None),
            ("user_id", "=", query.user_id),
            ("action", "=", query.action),
            ("result", "=", query.result),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f" AND {column} {operator} ${len(args)}")
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_AUDIT_COLUMNS.replace('metadata', 'metadata::text AS metadata')} "
                    f"FROM motadata_audit_log WHERE tenant_id = $1{''.join(clauses)} "
                    'ORDER BY "timestamp" DESC, id DESC LIMIT $2',
                    *args,
                )
        return [AuditEvent(**{**dict(row), "metadata": json.loads(row["metadata"])}) for row in rows]

    async def _maintain(self, tenant_id: str, statement: str, *args: Any) -> int:
        """Run one of the two statements the append-only trigger lets through."""
        await self.setup()
        with self._db.translate_errors(LedgerUnavailable, LedgerError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('motadata.audit_maintenance', 'on', true)")
                status = await conn.execute(statement, *args)
        return int(status.rsplit(" ", 1)[-1])

    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Rewrite ``user_id`` on the tenant's events (nothing else of an event ever changes)."""
        tenant_id = _tenant_id(tenant)
        return await self._maintain(
            tenant_id,
            "UPDATE motadata_audit_log SET user_id = $3 WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
            pseudonym,
        )

    async def delete_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Delete the tenant's events older than ``cutoff``."""
        tenant_id = _tenant_id(tenant)
        return await self._maintain(
            tenant_id,
            'DELETE FROM motadata_audit_log WHERE tenant_id = $1 AND "timestamp" < $2',
            tenant_id,
            aware(cutoff),
        )
