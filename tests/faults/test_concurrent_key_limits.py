"""A key's rate limit under racing callers: of 20 concurrent requests with a bucket of 5, exactly 5
reach the provider and the other 15 are refused with 429 and Retry-After (the take is atomic)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from motadata_ai.testing.openai_server import OpenAIServer
from tests.integration.http_rig import MODEL, rig

pytestmark = pytest.mark.faults


async def test_racing_requests_never_exceed_the_keys_bucket(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server, requests_per_minute=0) as r:
        issued = await r.keys.create("acme", requests_per_minute=5)
        headers = {"Authorization": f"Bearer {issued.token}"}
        async with httpx.AsyncClient(base_url=r.url, headers=headers, timeout=60) as http:

            async def call(number: int) -> httpx.Response:
                body = {"model": MODEL, "messages": [{"role": "user", "content": f"question {number}"}]}
                return await http.post("/v1/chat/completions", json=body)

            replies = await asyncio.gather(*(call(n) for n in range(20)))
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [200] * 5 + [429] * 15
    refused = [reply for reply in replies if reply.status_code == 429]
    assert all(int(reply.headers["Retry-After"]) >= 1 for reply in refused)
    assert {reply.json()["error"]["fields"]["scope"][0] for reply in refused} == {"key"}
    assert len(fresh_openai_server.chat_requests()) == 5
