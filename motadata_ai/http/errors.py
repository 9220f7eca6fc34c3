"""One error body for every HTTP answer: the OpenAI error shape, mapped from the SDK's error tree.

``{"error": {"message", "type", "param", "code", "sdk_error", "fields"}}``: ``message``, ``type``,
``param`` and ``code`` are what the OpenAI clients read (``openai.AuthenticationError`` for a 401,
``RateLimitError`` for a 429 ...); ``sdk_error`` names the SDK error class and ``fields`` carries
its structured fields (plain values only). The status follows the branch of the tree
(:mod:`motadata_ai.errors`):

=========================================  ======  ==========================================
error                                      status  ``type`` / ``code``
=========================================  ======  ==========================================
``InvalidAPIKey``                          401     authentication_error / invalid_api_key
``TenantMismatch``                         403     permission_error / tenant_mismatch
``UnknownModel`` (lists the allowed ones)  404     invalid_request_error / model_not_found
``NotFound``                               404     invalid_request_error / not_found
a malformed JSON body                      400     invalid_request_error / invalid_json
``ValidationError``, a schema failure      422     invalid_request_error / invalid_request
``RateLimited``, ``ProviderRateLimited``   429     rate_limit_error / rate_limit_exceeded
``BudgetExceeded``                         429     insufficient_quota / insufficient_quota
``ProviderBadRequest``                     502     upstream_error / provider_bad_request
other ``ServiceError``                     503     service_unavailable / service_unavailable
other ``UsageError`` (configuration)       500     server_error / configuration_error
=========================================  ======  ==========================================

A 429 carries a ``Retry-After`` header (whole seconds, rounded up) besides ``fields.retry_after``.
``ProviderBadRequest`` is the provider refusing the server's own request (its key, its
configuration): never the client's fault.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from motadata_ai.domain.gateway.errors import RateLimited
from motadata_ai.domain.values.api_keys import InvalidAPIKey, TenantMismatch
from motadata_ai.domain.values.errors import (
    BudgetExceeded,
    MotadataError,
    NotFound,
    ServiceError,
    ValidationError,
)
from motadata_ai.ports.llm import ProviderBadRequest, ProviderRateLimited, UnknownModel

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorDetail",
    "error_payload",
    "error_response",
    "install_error_handlers",
    "status_code",
]


class ErrorDetail(BaseModel):
    """What went wrong, in the OpenAI error shape plus the SDK's own class and fields."""

    message: str = Field(description="What went wrong, for people")
    type: str = Field(description="OpenAI error type: invalid_request_error, rate_limit_error, ...")
    param: str | None = Field(None, description="The request field at fault, when one is")
    code: str | None = Field(None, description="A stable code: invalid_api_key, model_not_found, ...")
    sdk_error: str = Field(description="The SDK error class (motadata_ai.errors)")
    fields: dict[str, Any] = Field(default_factory=dict, description="The error's structured fields")


class ErrorBody(BaseModel):
    """Every error answer of the server."""

    error: ErrorDetail


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Malformed JSON body"),
    401: _described("Missing, malformed, unknown or revoked API key"),
    403: _described("The API key belongs to another tenant"),
    404: _described("Unknown model (the allowed ones are listed) or object"),
    422: _described("The request does not follow the schema, or the SDK refused a value"),
    429: _described("Rate limit (with a Retry-After header) or budget exhausted"),
    500: _described("The server's configuration is wrong"),
    502: _described("The model provider refused the server's request"),
    503: _described("A provider or store is unavailable; retry later"),
}
"""The error answers every operation declares (one shared schema, ``ErrorBody``)."""


def _kind(error: MotadataError) -> tuple[int, str, str]:
    if isinstance(error, InvalidAPIKey):
        return 401, "authentication_error", "invalid_api_key"
    if isinstance(error, TenantMismatch):
        return 403, "permission_error", "tenant_mismatch"
    if isinstance(error, UnknownModel):
        return 404, "invalid_request_error", "model_not_found"
    if isinstance(error, NotFound):
        return 404, "invalid_request_error", "not_found"
    if isinstance(error, ValidationError):
        return 422, "invalid_request_error", "invalid_request"
    if isinstance(error, RateLimited | ProviderRateLimited):
        return 429, "rate_limit_error", "rate_limit_exceeded"
    if isinstance(error, BudgetExceeded):
        return 429, "insufficient_quota", "insufficient_quota"
    if isinstance(error, ProviderBadRequest):
        return 502, "upstream_error", "provider_bad_request"
    if isinstance(error, ServiceError):
        return 503, "service_unavailable", "service_unavailable"
    return 500, "server_error", "configuration_error"


def status_code(error: MotadataError) -> int:
    """The HTTP status for an SDK error (see the module's table)."""
    return _kind(error)[0]


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None)) or (
        isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
    )


def error_payload(error: MotadataError) -> dict[str, Any]:
    """The JSON body for an SDK error."""
    _, kind, code = _kind(error)
    fields = {key: value for key, value in error.fields.items() if _plain(value)}
    param = fields.get("field") if isinstance(fields.get("field"), str) else None
    detail = ErrorDetail(
        message=error.message,
        type=kind,
        param=param,
        code=code,
        sdk_error=type(error).__name__,
        fields=fields,
    )
    return ErrorBody(error=detail).model_dump(mode="json")


def retry_after_header(error: MotadataError) -> dict[str, str]:
    """``Retry-After`` (whole seconds, rounded up) for an error that carries ``retry_after``."""
    retry_after = error.fields.get("retry_after")
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool) and retry_after >= 0:
        return {"Retry-After": str(max(1, math.ceil(retry_after)))}
    return {}


def error_response(error: MotadataError) -> JSONResponse:
    """The JSON answer for an SDK error (with ``Retry-After`` when the error says when to retry)."""
    return JSONResponse(
        status_code=status_code(error), content=error_payload(error), headers=retry_after_header(error)
    )


def _validation_body(error: RequestValidationError) -> tuple[int, dict[str, Any]]:
    problems = error.errors()
    malformed = any(p.get("type") == "json_invalid" for p in problems)
    first = problems[0] if problems else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = None if malformed else ".".join(location) or None
    listed = [
        {"loc": ".".join(str(p) for p in item.get("loc", ())), "msg": str(item.get("msg", ""))}
        for item in problems[:20]
    ]
    summary = "; ".join(f"{item['loc']}: {item['msg']}" for item in listed) or "invalid request"
    detail = ErrorDetail(
        message=("the body is not valid JSON: " if malformed else "the request is invalid: ") + summary,
        type="invalid_request_error",
        param=param,
        code="invalid_json" if malformed else "invalid_request",
        sdk_error="ValidationError",
        fields={"field": param, "errors": [f"{item['loc']}: {item['msg']}" for item in listed]},
    )
    return (400 if malformed else 422), ErrorBody(error=detail).model_dump(mode="json")


def install_error_handlers(app: FastAPI) -> None:
    """Answer SDK errors, schema failures and unknown routes with :class:`ErrorBody`."""

    @app.exception_handler(MotadataError)
    async def sdk_error(_: Request, error: MotadataError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        status, body = _validation_body(error)
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        detail = ErrorDetail(
            message=str(error.detail),
            type="invalid_request_error",
            code=code,
            sdk_error="HTTPError",
            fields={"status_code": error.status_code},
        )
        return JSONResponse(
            status_code=error.status_code,
            content=ErrorBody(error=detail).model_dump(mode="json"),
            headers=getattr(error, "headers", None),
        )
