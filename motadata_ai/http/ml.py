"""``POST /v1/ml/models/{name}/predict``: one record or a batch, by version or alias (like
MLflow's ``/invocations``: ``{"inputs": {...}}`` or ``{"inputs": [{...}, ...]}``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Prediction
from motadata_ai.http.auth import Caller
from motadata_ai.http.errors import ERROR_RESPONSES
from motadata_ai.http.routing import SDKErrorRoute

__all__ = ["PredictRequest", "PredictResponse", "create_ml_router"]


class PredictRequest(BaseModel):
    """Records to predict with a version or the version an alias points at."""

    inputs: dict[str, Any] | list[dict[str, Any]] = Field(
        description="One record (feature -> value) or a list of records (at most 10,000)"
    )
    version: int | None = Field(None, ge=1, description="A registered version (default: the alias's)")
    alias: str = Field("champion", description="The alias to resolve when no version is given")


class PredictResponse(BaseModel):
    """The predictions, in input order."""

    predictions: list[Prediction]


def create_ml_router(target: Any, caller: Callable[..., Awaitable[Caller]]) -> APIRouter:
    """The prediction route over ``target.ml(tenant)``."""
    router = APIRouter(prefix="/v1/ml", tags=["ml"], route_class=SDKErrorRoute)

    @router.post(
        "/models/{name}/predict",
        operation_id="predict",
        summary="Predict one record or a batch with a registered model",
        response_model=PredictResponse,
        responses=ERROR_RESPONSES,
    )
    async def predict(
        body: PredictRequest,
        name: str = Path(description="The registered model's name"),
        who: Caller = Depends(caller),
    ) -> PredictResponse:
        await who.admit()
        ml = target.ml(who.tenant_id)
        if isinstance(body.inputs, dict):
            one = await ml.predict(name, body.inputs, version=body.version, alias=body.alias)
            return PredictResponse(predictions=[one])
        if len(body.inputs) > 10_000:
            raise ValidationError("at most 10,000 records per request", field="inputs")
        many = await ml.predict_batch(name, body.inputs, version=body.version, alias=body.alias)
        return PredictResponse(predictions=many)

    return router
