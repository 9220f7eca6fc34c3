"""PostgreSQL stores of the ML framework: model registry, experiment store, prediction log.

Tables live in the ``ml`` migration component. Registrations and alias moves of one model are
serialised by a transaction-scoped advisory lock on (tenant, model), so version numbers never
collide and a promotion or rollback is all-or-nothing. Alias history is a stack of rows: the
newest row is the alias's target; rolling back deletes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from motadata_ai.adapters.postgres.database import MigratedStore, PostgresDatabase
from motadata_ai.domain.values.ml import (
    AliasChange,
    ModelSummary,
    ModelVersion,
    PredictionLogEntry,
    TrainingRun,
)
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.ml import (
    AliasNotFound,
    ExperimentStoreError,
    ExperimentStorePort,
    ExperimentStoreUnavailable,
    ModelNotFound,
    ModelRegistryPort,
    PredictionLogError,
    PredictionLogPort,
    PredictionLogUnavailable,
    RegistryError,
    RegistryUnavailable,
    RunNotFound,
    VersionNotFound,
)

ML_MIGRATIONS = [
    (
        1,
        "model registry, experiments and prediction log",
        """
        CREATE TABLE IF NOT EXISTS ml_model_versions (
            tenant_id   text        NOT NULL,
            model_name  text        NOT NULL,
            version     integer     NOT NULL,
            run_id      text        NOT NULL,
            body        jsonb       NOT NULL,
            created_at  timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, model_name, version)
        );
        CREATE TABLE IF NOT EXISTS ml_alias_history (
            id          bigserial   PRIMARY KEY,
            tenant_id   text        NOT NULL,
            model_name  text        NOT NULL,
            alias       text        NOT NULL,
            version     integer     NOT NULL,
            changed_at  timestamptz NOT NULL DEFAULT now(),
            FOREIGN KEY (tenant_id, model_name, version)
                REFERENCES ml_model_versions (tenant_id, model_name, version)
        );
        CREATE INDEX IF NOT EXISTS ml_alias_history_lookup
            ON ml_alias_history (tenant_id, model_name, alias, id DESC);
        CREATE TABLE IF NOT EXISTS ml_runs (
            tenant_id   text        NOT NULL,
            run_id      text        NOT NULL,
            model_name  text        NOT NULL,
            status      text        NOT NULL,
            started_at  timestamptz NOT NULL,
            body        jsonb       NOT NULL,
            PRIMARY KEY (tenant_id, run_id)
        );
        CREATE INDEX IF NOT EXISTS ml_runs_by_model ON ml_runs (tenant_id, model_name, started_at DESC);
        CREATE TABLE IF NOT EXISTS ml_prediction_log (
            id          bigserial   PRIMARY KEY,
            tenant_id   text        NOT NULL,
            model_name  text        NOT NULL,
            version     integer     NOT NULL,
            label       text        NOT NULL,
            inputs      jsonb       NOT NULL,
            created_at  timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ml_prediction_log_recent
            ON ml_prediction_log (tenant_id, model_name, id DESC);
        """,
    ),
    (
        2,
        "the user a prediction was made for (erasure, export)",
        """
        ALTER TABLE ml_prediction_log ADD COLUMN IF NOT EXISTS user_id text;
        CREATE INDEX IF NOT EXISTS ml_prediction_log_user
            ON ml_prediction_log (tenant_id, user_id) WHERE user_id IS NOT NULL;
        """,
    ),
    (
        3,
        "the trace a training run ran in (find a run by trace id)",
        """
        ALTER TABLE ml_runs ADD COLUMN IF NOT EXISTS trace_id text;
        UPDATE ml_runs SET trace_id = NULLIF(body->>'trace_id', '') WHERE trace_id IS NULL;
        CREATE INDEX IF NOT EXISTS ml_runs_by_trace
            ON ml_runs (tenant_id, trace_id) WHERE trace_id IS NOT NULL;
        """,
    ),
]


class _MigratedStore(MigratedStore):
    """Applies the ``ml`` migrations once, before the first query (callers translate the errors)."""

    component = "ml"
    migrations = ML_MIGRATIONS


class PostgresModelRegistry(_MigratedStore, ModelRegistryPort):
    """Model versions and alias history in PostgreSQL."""

    def _errors(self, **fields: Any) -> Any:
        return self._db.translate_errors(RegistryUnavailable, RegistryError, **fields)

    async def register(self, version: ModelVersion) -> ModelVersion:
        """Number and insert under the model's advisory lock."""
        with self._errors(tenant_id=version.tenant_id, model=version.model_name):
            await self.setup()
            writing = self._db.writing(version.tenant_id)
            async with writing, self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                    version.tenant_id,
                    version.model_name,
                )
                latest = await conn.fetchval(
                    "SELECT coalesce(max(version), 0) FROM ml_model_versions"
                    " WHERE tenant_id = $1 AND model_name = $2",
                    version.tenant_id,
                    version.model_name,
                )
                numbered = version.model_copy(update={"version": int(latest) + 1})
                await conn.execute(
                    "INSERT INTO ml_model_versions (tenant_id, model_name, version, run_id, body, created_at)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
                    numbered.tenant_id,
                    numbered.model_name,
                    numbered.version,
                    numbered.run_id,
                    numbered.model_dump_json(),
                    numbered.created_at,
                )
                return numbered

    async def _exists(self, conn: Any, tenant_id: str, model_name: str) -> None:
        found = await conn.fetchval(
            "SELECT 1 FROM ml_model_versions WHERE tenant_id = $1 AND model_name = $2 LIMIT 1",
            tenant_id,
            model_name,
        )
        if not found:
            raise ModelNotFound(
                f"no model {model_name!r} is registered for tenant {tenant_id!r}",
                tenant_id=tenant_id,
                model=model_name,
            )

    async def _version(self, conn: Any, tenant_id: str, model_name: str, version: int) -> ModelVersion:
        body = await conn.fetchval(
            "SELECT body FROM ml_model_versions WHERE tenant_id = $1 AND model_name = $2 AND version = $3",
            tenant_id,
            model_name,
            version,
        )
        if body is None:
            await self._exists(conn, tenant_id, model_name)
            raise VersionNotFound(
                f"model {model_name!r} has no version {version}",
                tenant_id=tenant_id,
                model=model_name,
                version=version,
            )
        return ModelVersion.model_validate_json(body)

    async def get_version(self, tenant_id: str, model_name: str, version: int) -> ModelVersion:
        """One version."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, model=model_name):
            await self.setup()
            return await self._db.read(
                lambda conn: self._version(conn, tenant_id, model_name, version), tenant_id=tenant_id
            )

    async def resolve_alias(self, tenant_id: str, model_name: str, alias: str) -> ModelVersion:
        """The newest history row's version."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, model=model_name):
            await self.setup()
            return await self._db.read(
                lambda conn: self._resolve(conn, tenant_id, model_name, alias), tenant_id=tenant_id
            )

    async def _resolve(self, conn: Any, tenant_id: str, model_name: str, alias: str) -> ModelVersion:
        body = await conn.fetchval(
            "SELECT v.body FROM ml_alias_history h JOIN ml_model_versions v"
            " USING (tenant_id, model_name, version)"
            " WHERE h.tenant_id = $1 AND h.model_name = $2 AND h.alias = $3"
            " ORDER BY h.id DESC LIMIT 1",
            tenant_id,
            model_name,
            alias,
        )
        if body is None:
            await self._exists(conn, tenant_id, model_name)
            raise AliasNotFound(
                f"alias {alias!r} is not set on model {model_name!r}; promote a version first",
                tenant_id=tenant_id,
                model=model_name,
                alias=alias,
            )
        return ModelVersion.model_validate_json(body)

    async def list_versions(self, tenant_id: str, model_name: str) -> list[ModelVersion]:
        """Oldest first."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, model=model_name):
            await self.setup()
            return await self._db.read(
                lambda conn: self._versions(conn, tenant_id, model_name), tenant_id=tenant_id
            )

    async def _versions(self, conn: Any, tenant_id: str, model_name: str) -> list[ModelVersion]:
        rows = await conn.fetch(
            "SELECT body FROM ml_model_versions WHERE tenant_id = $1 AND model_name = $2"
            " ORDER BY version",
            tenant_id,
            model_name,
        )
        if not rows:
            await self._exists(conn, tenant_id, model_name)
        return [ModelVersion.model_validate_json(r["body"]) for r in rows]

    async def list_models(self, tenant_id: str) -> list[ModelSummary]:
        """Names with latest version, count and current aliases."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                models = await conn.fetch(
                    "SELECT model_name, max(version) AS latest, count(*) AS versions FROM ml_model_versions"
                    " WHERE tenant_id = $1 GROUP BY model_name ORDER BY model_name",
                    tenant_id,
                )
                aliases = await conn.fetch(
                    "SELECT DISTINCT ON (model_name, alias) model_name, alias, version FROM ml_alias_history"
                    " WHERE tenant_id = $1 ORDER BY model_name, alias, id DESC",
                    tenant_id,
                )
        by_model: dict[str, dict[str, int]] = {}
        for row in aliases:
            by_model.setdefault(row["model_name"], {})[row["alias"]] = row["version"]
        return [
            ModelSummary(
                model_name=r["model_name"],
                latest_version=r["latest"],
                versions=r["versions"],
                aliases=dict(sorted(by_model.get(r["model_name"], {}).items())),
            )
            for r in models
        ]

    async def set_alias(self, tenant_id: str, model_name: str, alias: str, version: int) -> AliasChange:
        """Push a history row under the model's lock."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, model=model_name, alias=alias):
            await self.setup()
            async with self._db.writing(tenant_id), self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", tenant_id, model_name
                )
                await self._version(conn, tenant_id, model_name, version)
                previous = await conn.fetchval(
                    "SELECT version FROM ml_alias_history WHERE tenant_id = $1 AND model_name = $2"
                    " AND alias = $3 ORDER BY id DESC LIMIT 1",
                    tenant_id,
                    model_name,
                    alias,
                )
                if previous != version:
                    await conn.execute(
                        "INSERT INTO ml_alias_history (tenant_id, model_name, alias, version)"
                        " VALUES ($1, $2, $3, $4)",
                        tenant_id,
                        model_name,
                        alias,
                        version,
                    )
                return AliasChange(model_name=model_name, alias=alias, previous=previous, current=version)

    async def rollback_alias(self, tenant_id: str, model_name: str, alias: str) -> AliasChange:
        """Delete the newest history row under the model's lock."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, model=model_name, alias=alias):
            await self.setup()
            async with self._db.writing(tenant_id), self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", tenant_id, model_name
                )
                await self._exists(conn, tenant_id, model_name)
                rows = await conn.fetch(
                    "SELECT id, version FROM ml_alias_history WHERE tenant_id = $1 AND model_name = $2"
                    " AND alias = $3 ORDER BY id DESC LIMIT 2",
                    tenant_id,
                    model_name,
                    alias,
                )
                if len(rows) < 2:
                    raise AliasNotFound(
                        f"alias {alias!r} of model {model_name!r} has no earlier version to roll back to",
                        tenant_id=tenant_id,
                        model=model_name,
                        alias=alias,
                    )
                await conn.execute("DELETE FROM ml_alias_history WHERE id = $1", rows[0]["id"])
                return AliasChange(
                    model_name=model_name,
                    alias=alias,
                    previous=rows[0]["version"],
                    current=rows[1]["version"],
                )


class PostgresExperimentStore(_MigratedStore, ExperimentStorePort):
    """Training runs in PostgreSQL (the run as JSON, with indexed tenant, model and start time)."""

    def _errors(self, **fields: Any) -> Any:
        return self._db.translate_errors(ExperimentStoreUnavailable, ExperimentStoreError, **fields)

    async def save_run(self, run: TrainingRun) -> None:
        """Upsert by (tenant, run id)."""
        with self._errors(tenant_id=run.tenant_id, run_id=run.run_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO ml_runs (tenant_id, run_id, model_name, status, started_at, body, trace_id)"
                    " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
                    " ON CONFLICT (tenant_id, run_id) DO UPDATE SET"
                    " model_name = excluded.model_name, status = excluded.status,"
                    " started_at = excluded.started_at, body = excluded.body, trace_id = excluded.trace_id",
                    run.tenant_id,
                    run.run_id,
                    run.model_name,
                    run.status,
                    run.started_at,
                    run.model_dump_json(),
                    run.trace_id or None,
                )

    async def get_run(self, tenant_id: str, run_id: str) -> TrainingRun:
        """One run."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id, run_id=run_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                body = await conn.fetchval(
                    "SELECT body FROM ml_runs WHERE tenant_id = $1 AND run_id = $2", tenant_id, run_id
                )
        if body is None:
            raise RunNotFound(
                f"no run {run_id!r} for tenant {tenant_id!r}", tenant_id=tenant_id, run_id=run_id
            )
        return TrainingRun.model_validate_json(body)

    async def list_runs(
        self,
        tenant_id: str,
        *,
        model_name: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
    ) -> list[TrainingRun]:
        """Newest first."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._errors(tenant_id=tenant_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT body FROM ml_runs WHERE tenant_id = $1 AND ($2::text IS NULL OR model_name = $2)"
                    " AND ($3::text IS NULL OR trace_id = $3)"
                    " ORDER BY started_at DESC, run_id DESC LIMIT $4",
                    tenant_id,
                    model_name,
                    trace_id,
                    limit,
                )
        return [TrainingRun.model_validate_json(r["body"]) for r in rows]


class PostgresPredictionLog(_MigratedStore, PredictionLogPort):
    """Sampled predictions in PostgreSQL (``max_entries`` per tenant and model kept on append)."""

    def __init__(self, db: PostgresDatabase, *, max_entries: int = 100_000) -> None:
        super().__init__(db)
        self._max = max_entries

    async def append(self, entries: Sequence[PredictionLogEntry]) -> None:
        """Insert the entries, then trim the oldest beyond the bound."""
        if not entries:
            return
        with self._db.translate_errors(PredictionLogUnavailable, PredictionLogError):
            await self.setup()
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.executemany(
                    "INSERT INTO ml_prediction_log"
                    " (tenant_id, model_name, version, label, inputs, created_at, user_id)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)",
                    [
                        (
                            e.tenant_id,
                            e.model_name,
                            e.version,
                            e.label,
                            json.dumps(e.inputs),
                            e.created_at,
                            e.user_id,
                        )
                        for e in entries
                    ],
                )
                for tenant_id, model_name in {(e.tenant_id, e.model_name) for e in entries}:
                    await conn.execute(
                        "DELETE FROM ml_prediction_log WHERE tenant_id = $1 AND model_name = $2 AND id <= ("
                        " SELECT id FROM ml_prediction_log WHERE tenant_id = $1 AND model_name = $2"
                        " ORDER BY id DESC OFFSET $3 LIMIT 1)",
                        tenant_id,
                        model_name,
                        self._max,
                    )

    async def recent(
        self, tenant_id: str, model_name: str, *, version: int | None = None, limit: int = 1000
    ) -> list[PredictionLogEntry]:
        """Newest first."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._db.translate_errors(PredictionLogUnavailable, PredictionLogError, tenant_id=tenant_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT model_name, version, label, inputs, created_at, user_id FROM ml_prediction_log"
                    " WHERE tenant_id = $1 AND model_name = $2 AND ($3::integer IS NULL OR version = $3)"
                    " ORDER BY id DESC LIMIT $4",
                    tenant_id,
                    model_name,
                    version,
                    limit,
                )
        return [
            PredictionLogEntry(
                tenant_id=tenant_id,
                model_name=r["model_name"],
                version=r["version"],
                label=r["label"],
                inputs=json.loads(r["inputs"]),
                created_at=r["created_at"],
                user_id=r["user_id"],
            )
            for r in rows
        ]

    async def user_entries(self, tenant_id: str, user_id: str) -> list[PredictionLogEntry]:
        """Oldest first."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._db.translate_errors(PredictionLogUnavailable, PredictionLogError, tenant_id=tenant_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT model_name, version, label, inputs, created_at, user_id FROM ml_prediction_log"
                    " WHERE tenant_id = $1 AND user_id = $2 ORDER BY id",
                    tenant_id,
                    user_id,
                )
        return [
            PredictionLogEntry(tenant_id=tenant_id, **{**dict(r), "inputs": json.loads(r["inputs"])})
            for r in rows
        ]

    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Delete the user's rows."""
        tenant_id = validate_tenant_id(tenant_id)
        with self._db.translate_errors(PredictionLogUnavailable, PredictionLogError, tenant_id=tenant_id):
            await self.setup()
            async with self._db.pool.acquire() as conn:
                status = await conn.execute(
                    "DELETE FROM ml_prediction_log WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
                )
        return int(status.rsplit(" ", 1)[-1])
