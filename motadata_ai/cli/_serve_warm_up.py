"""Serve's warm-up: the first request after ``/ready`` finds nothing left to build.

FastAPI and Starlette build parts of an application on its first request (the middleware stack,
each route's request and response handling), and the SDK builds its unified query endpoint on
first use: one-time work that a profile of the first request against the tenth shows (about
8,000 more function calls, 15-20 ms here). :func:`warm_up_app` does that work before the server
listens: the unified query endpoint is built, and two requests go through the application in
process (no socket): ``GET /ready`` and a ``POST /query`` with an empty query, which request
validation refuses (422) before any model or store is reached, so nothing is read or written for
any tenant.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["WARM_UP_TENANT", "warm_up_app"]

log = logging.getLogger(__name__)

WARM_UP_TENANT = "motadata-warm-up"
"""The tenant named in the warm-up query (refused at validation, so it never reaches a store)."""


async def warm_up_app(app: Any, target: Any, *, prefix: str = "") -> None:
    """Build what ``app`` and ``target`` (the connected SDK) would build on their first request."""
    import httpx

    try:
        getattr(target, "unified", None)  # the unified query endpoint, built on first use
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warm-up") as client:
            await client.get(f"{prefix}/ready")
            await client.post(f"{prefix}/query", json={"query": "", "tenant_id": WARM_UP_TENANT})
    except Exception as error:  # serving works without it: only the first request is slower
        log.warning("the server's warm-up request failed: %s", error)
