"""The health-probe part of every store, cache and bus contract.

Each port's contract suite runs :func:`assert_probe_answers` on a fresh adapter (its probe makes
a real round trip and reports ``ok``) and, for adapters behind a server,
:func:`assert_probe_reports_down` on one pointed at a server that does not answer (it reports
``down`` without raising, and names no password).
"""

from __future__ import annotations

from typing import Any

from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.health import NO_PROBE

__all__ = ["assert_probe_answers", "assert_probe_reports_down"]


async def assert_probe_answers(adapter: Any) -> ComponentHealth:
    """``adapter.health()`` is ``ok``, timed, and comes from a probe of the adapter's own."""
    report = await adapter.health()
    assert isinstance(report, ComponentHealth), report
    assert report.status == "ok", report
    assert report.latency_ms >= 0 and report.error is None
    assert report.details.get("probe") not in (None, NO_PROBE), report.details
    return report


async def assert_probe_reports_down(adapter: Any, *, secret: str) -> ComponentHealth:
    """``adapter.health()`` answers ``down`` with an error (it does not raise) and leaks no
    ``secret``."""
    report = await adapter.health()
    assert isinstance(report, ComponentHealth), report
    assert report.status == "down" and report.error, report
    assert secret not in report.model_dump_json()
    return report
