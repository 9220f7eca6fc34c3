"""RAG, ML and the unified query over HTTP on the connected SDK (memory profile, local models):
``create_app(ai, keys=...)`` as ``motadata-ai serve`` builds it, served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from motadata_ai.api import AI, connect
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.values.ml import Dataset
from motadata_ai.http import create_app
from motadata_ai.settings import Settings
from motadata_ai.testing.http_server import serve_app

from ..unit.ml.conftest import SCHEMA, features_of, make_records

ARTICLE = b"""# Resetting the VPN token

Open the self-service portal and choose Reset VPN token. The new token works within five minutes.
"""


@pytest_asyncio.fixture(loop_scope="session")
async def served(tmp_path: Path) -> AsyncIterator[tuple[AI, VirtualKeys, str]]:
    settings = Settings(profile="memory", data_dir=tmp_path, requests_per_minute=0)
    async with connect(settings) as ai:
        keys = VirtualKeys(ai.port("api_keys"), limits=ai.port("limits"))
        async with serve_app(create_app(ai, keys=keys)) as url:
            yield ai, keys, url


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rag_ingest_json_and_upload_then_query_per_tenant(served: tuple[AI, VirtualKeys, str]) -> None:
    _, keys, url = served
    acme = await keys.create("acme")
    globex = await keys.create("globex")
    documents = {
        "documents": [{"id": "kb/mfa", "text": "Reset MFA from the portal's security page.", "title": "MFA"}]
    }
    upload = {"file": ("vpn-token.md", ARTICLE, "text/markdown")}
    async with httpx.AsyncClient(base_url=url, headers=auth(acme.token), timeout=60) as http:
        as_json = await http.post("/v1/rag/ingest", json=documents)
        uploaded = await http.post("/v1/rag/ingest", files=upload)
        again = await http.post("/v1/rag/ingest", files=upload)
        answer = await http.post("/v1/rag/query", json={"query": "How do I reset the VPN token?"})
        bad = await http.post("/v1/rag/ingest", json={"documents": []})
        no_file = await http.post("/v1/rag/ingest", files={"other": ("x.txt", b"x", "text/plain")})
    async with httpx.AsyncClient(base_url=url, headers=auth(globex.token), timeout=60) as http:
        theirs = await http.post("/v1/rag/query", json={"query": "How do I reset the VPN token?"})
    assert as_json.status_code == 200 and as_json.json()["documents"][0]["action"] == "created"
    assert uploaded.status_code == 200, uploaded.text
    assert [d["document_id"] for d in uploaded.json()["documents"]] == ["upload/vpn-token.md"]
    assert again.json()["documents"][0]["action"] == "unchanged"  # same file, same document
    assert answer.status_code == 200
    assert "five minutes" in answer.json()["answer"]
    assert "upload/vpn-token.md" in {s["document_id"] for s in answer.json()["sources"]}
    assert bad.status_code == 422 and bad.json()["error"]["sdk_error"] == "ValidationError"
    assert no_file.status_code == 422 and no_file.json()["error"]["param"] == "file"
    assert theirs.status_code == 404 and theirs.json()["error"]["sdk_error"] == "KnowledgeBaseEmpty"


async def test_predict_one_and_a_batch_by_alias_and_version(served: tuple[AI, VirtualKeys, str]) -> None:
    ai, keys, url = served
    ml = ai.ml("acme")
    run = await ml.train(Dataset.from_records(make_records(120), SCHEMA), model_name="escalation")
    await ml.promote("escalation", run.version or 0)
    records: list[dict[str, Any]] = features_of(make_records(3, seed=5))
    acme = await keys.create("acme")
    globex = await keys.create("globex")
    path = "/v1/ml/models/escalation/predict"
    async with httpx.AsyncClient(base_url=url, headers=auth(acme.token), timeout=60) as http:
        one = await http.post(path, json={"inputs": records[0]})
        batch = await http.post(path, json={"inputs": records, "version": run.version})
        unknown = await http.post("/v1/ml/models/nope/predict", json={"inputs": records[0]})
        no_alias = await http.post(path, json={"inputs": records[0], "alias": "staging"})
        extra = await http.post(path, json={"inputs": {**records[0], "surprise": 1}})
    async with httpx.AsyncClient(base_url=url, headers=auth(globex.token), timeout=60) as http:
        theirs = await http.post(path, json={"inputs": records[0]})
    expected = [p.label for p in await ml.predict_batch("escalation", records)]
    assert one.status_code == 200 and one.json()["predictions"][0]["label"] == expected[0]
    assert [p["label"] for p in batch.json()["predictions"]] == expected
    assert {p["version"] for p in batch.json()["predictions"]} == {run.version}
    assert unknown.status_code == 404 and unknown.json()["error"]["sdk_error"] == "ModelNotFound"
    assert no_alias.status_code == 404 and no_alias.json()["error"]["sdk_error"] == "AliasNotFound"
    assert extra.status_code == 422
    assert theirs.status_code == 404  # another tenant's model does not exist for globex


async def test_query_and_chat_take_the_tenant_from_the_key(served: tuple[AI, VirtualKeys, str]) -> None:
    _, keys, url = served
    issued = await keys.create("initech", user_id="peter")
    async with httpx.AsyncClient(base_url=url, headers=auth(issued.token), timeout=60) as http:
        await http.post(
            "/v1/rag/ingest",
            json={
                "documents": [
                    {
                        "id": "p1",
                        "text": "The resolution target for a P1 incident is 4 hours from the first report.",
                    }
                ]
            },
        )
        query = await http.post("/query", json={"query": "What is the P1 resolution target?", "mode": "rag"})
        foreign = await http.post("/query", json={"query": "x", "tenant_id": "acme"})
        chat = await http.post(
            "/v1/chat/completions",
            json={
                "model": "local/extractive",
                "messages": [
                    {"role": "system", "content": "Context: the service desk opens at 8am."},
                    {"role": "user", "content": "When does the service desk open?"},
                ],
            },
        )
        models = await http.get("/v1/models")
    assert query.status_code == 200, query.text
    assert query.json()["tenant_id"] == "initech" and query.json()["user_id"] == "peter"
    assert "4 hours" in query.json()["answer"]
    assert foreign.status_code == 403
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["role"] == "assistant"
    assert "local/extractive" in [m["id"] for m in models.json()["data"]]
