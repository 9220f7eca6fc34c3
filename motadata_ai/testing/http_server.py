"""An ASGI application served by uvicorn on a free loopback port, on the running event loop.

``async with serve_app(app) as base_url:`` starts uvicorn as a task of the caller's loop (so the
application shares the loop with the test's own objects), waits until it accepts connections,
yields ``http://127.0.0.1:<port>`` and stops it afterwards. Real HTTP for the openai client,
LiteLLM and generated clients, with nothing mocked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from motadata_ai.testing.servers.process import free_port

__all__ = ["serve_app"]


@asynccontextmanager
async def serve_app(app: Any, *, host: str = "127.0.0.1", port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # raises why it could not start
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
