"""The function API's ML: :func:`create_ml_system` over a :class:`Database`."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.functions._common import DEFAULT_TENANT
from motadata_ai.functions.database import Database, _default_database

if TYPE_CHECKING:
    from motadata_ai.domain.ml.system import MLSystem

__all__ = ["FunctionMLSystem", "create_ml_system"]


class FunctionMLSystem:
    """A tenant's ML system on a :class:`Database`, built on first use (``train``, ``predict``,
    ``promote`` ... are the :class:`~motadata_ai.domain.ml.system.MLSystem`'s own)."""

    def __init__(self, *, db: Database, tenant_id: str, options: dict[str, Any]) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self._options = options
        self._system: MLSystem | None = None

    async def system(self) -> MLSystem:
        """The ML system (built on the first call)."""
        if self._system is None:
            from motadata_ai.api import create_ml_system as build_ml

            ai = await self.db.connect()
            options = dict(self._options)
            options.setdefault("cache", ai.port("cache"))
            self._system = build_ml(
                tenant_id=self.tenant_id,
                registry=ai.port("model_registry"),
                experiments=ai.port("experiments"),
                artifacts=ai.port("artifacts"),
                prediction_log=ai.port("prediction_log"),
                trainers=ai.container.trainers(),
                bus=ai.port("bus"),
                settings=ai.settings,
                **options,
            )
        return self._system

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = getattr(await self.system(), name)(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        call.__name__ = name
        return call


def create_ml_system(
    *,
    db: Database | None = None,
    tenant_id: str | TenantContext | None = None,
    max_memory_mb: int | None = None,
    cache: Any = None,
    enable_gpu: bool | None = None,
    **options: Any,
) -> FunctionMLSystem | MLSystem:
    """A tenant's ML system with its registry, experiments and artifacts on ``db`` (default: the
    configured profile's database). ``max_memory_mb`` bounds the loaded models, ``cache`` (a
    :func:`create_cache_mechanism`) caches predictions, ``enable_gpu`` trains PyTorch models on
    CUDA. Given the ports (``registry=``, ``experiments=`` ...) instead of ``db``, the system is
    built at once over them (:func:`motadata_ai.api.create_ml_system`)."""
    tenant = TenantContext.of(tenant_id).tenant_id if tenant_id is not None else DEFAULT_TENANT
    if max_memory_mb is not None:
        options["max_memory_mb"] = max_memory_mb
    if enable_gpu is not None:
        options["enable_gpu"] = enable_gpu
    if cache is not None:
        options["cache"] = cache
    if "registry" in options:
        from motadata_ai.api import create_ml_system as build_ml

        return build_ml(tenant_id=tenant, **options)
    return FunctionMLSystem(db=_default_database(db), tenant_id=tenant, options=options)
