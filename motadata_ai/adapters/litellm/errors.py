"""Translation of LiteLLM (and OpenAI SDK / httpx) exceptions into the LLM port's errors.

Nothing vendor-typed crosses the port: every failure becomes a
:class:`~motadata_ai.ports.llm.ProviderError` subclass carrying ``model``, ``provider``,
``status_code``, ``address`` (credentials masked) and, for 429, ``retry_after``.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.ports.llm import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)


def parse_retry_after(value: object) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header value: a number or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _headers_of(error: BaseException) -> Any:
    for attribute in ("litellm_response_headers", "headers"):
        headers = getattr(error, attribute, None)
        if headers:
            return headers
    response = getattr(error, "response", None)
    return getattr(response, "headers", None) if response is not None else None


def retry_after_of(error: BaseException) -> float | None:
    """The delay the provider asked for, read from the error's response headers."""
    headers = _headers_of(error)
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000.0)
    except (TypeError, ValueError, AttributeError):
        pass
    try:
        return parse_retry_after(headers.get("retry-after"))
    except AttributeError:
        return None


def _message(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error) or type(error).__name__
    text = text.replace("litellm.", "")
    return text if len(text) <= 500 else text[:497] + "..."


def translate_error(
    error: BaseException,
    *,
    model: str,
    provider: str,
    api_base: str | None,
    available: list[str] | None = None,
) -> ProviderError:
    """The port error for a LiteLLM / transport exception (call as ``raise translate_error(e) from e``)."""
    if isinstance(error, ProviderError):
        return error
    import litellm

    address = mask_url(api_base) if api_base else None
    status = getattr(error, "status_code", None)
    status_code = status if isinstance(status, int) else None
    fields: dict[str, Any] = {
        "model": model,
        "provider": provider,
        "status_code": status_code,
        "address": address,
    }
    where = f" at {address}" if address else ""
    detail = _message(error)
    exceptions = litellm.exceptions

    if isinstance(error, exceptions.ContextWindowExceededError):
        return ContextWindowExceeded(
            f"{model}: the prompt does not fit the context window: {detail}", **fields
        )
    if isinstance(error, exceptions.Timeout | asyncio.TimeoutError | TimeoutError):
        return ProviderTimeout(f"{model}: the provider{where} did not answer in time: {detail}", **fields)
    if isinstance(error, exceptions.RateLimitError):
        retry_after = retry_after_of(error)
        return ProviderRateLimited(
            f"{model}: rate limited by {provider}{where}"
            + (f" (retry after {retry_after:g} s)" if retry_after is not None else "")
            + f": {detail}",
            retry_after=retry_after,
            **fields,
        )
    if isinstance(error, exceptions.AuthenticationError | exceptions.PermissionDeniedError) or (
        "Missing credentials" in detail or "api_key client option must be set" in detail
    ):
        return ProviderAuthError(f"{model}: {provider}{where} refused the credentials: {detail}", **fields)
    if isinstance(error, exceptions.LiteLLMUnknownProvider) or (
        isinstance(error, exceptions.BadRequestError) and "LLM Provider NOT provided" in detail
    ):
        installed = ", ".join(available or []) or "none"
        return UnknownModel(
            f"no provider serves model {model!r}; name it '<provider>/<model>' "
            f"(custom providers installed: {installed})",
            available=list(available or []),
            **fields,
        )
    if isinstance(error, exceptions.NotFoundError):
        return UnknownModel(f"{model}: {provider}{where} does not know this model: {detail}", **fields)
    if isinstance(
        error,
        exceptions.ServiceUnavailableError
        | exceptions.InternalServerError
        | exceptions.APIConnectionError
        | exceptions.BadGatewayError,
    ):
        return ProviderUnavailable(f"{model}: {provider}{where} is unavailable: {detail}", **fields)
    if isinstance(
        error,
        exceptions.BadRequestError
        | exceptions.UnprocessableEntityError
        | exceptions.UnsupportedParamsError
        | exceptions.ContentPolicyViolationError,
    ):
        return ProviderBadRequest(f"{model}: {provider}{where} rejected the request: {detail}", **fields)
    if status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429):
        return ProviderBadRequest(f"{model}: {provider}{where} rejected the request: {detail}", **fields)
    if isinstance(error, ConnectionError | OSError):
        return ProviderUnavailable(f"{model}: {provider}{where} is unreachable: {detail}", **fields)
    return ProviderUnavailable(
        f"{model}: {provider}{where} failed: {type(error).__name__}: {detail}", **fields
    )
