"""A client generated from the server's own ``/openapi.json`` (openapi-python-client) calls it over
real HTTP: a completion, the model list, and errors parsed as the declared error body."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from motadata_ai.testing.openai_server import OpenAIServer
from tests.integration.http_rig import MODEL, rig


def generate(spec: dict[str, Any], folder: Path) -> Any:
    """Generate the client package ``motadata_http_client`` under ``folder`` and import it."""
    (folder / "openapi.json").write_text(json.dumps(spec))
    bin_dir = str(Path(sys.executable).parent)
    subprocess.run(
        [
            str(Path(bin_dir) / "openapi-python-client"),
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(folder / "motadata_http_client"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
        timeout=120,
    )
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("motadata_http_client")
    finally:
        sys.path.remove(str(folder))


async def test_a_generated_client_round_trips_answers_and_errors(
    fresh_openai_server: OpenAIServer, tmp_path: Path
) -> None:
    async with rig(fresh_openai_server) as r:
        async with httpx.AsyncClient(base_url=r.url) as http:
            spec = (await http.get("/openapi.json")).json()
        package = generate(spec, tmp_path)
        models = importlib.import_module("motadata_http_client.models")
        chat = importlib.import_module("motadata_http_client.api.openai.create_chat_completion")
        list_models = importlib.import_module("motadata_http_client.api.openai.list_models")
        issued = await r.keys.create("acme", allowed_models=[MODEL])
        client = package.AuthenticatedClient(base_url=r.url, token=issued.token)
        anonymous = package.Client(base_url=r.url)

        def request(model: str, **fields: Any) -> Any:
            message = models.ChatMessage(role=models.ChatMessageRole.USER, content="hello")
            return models.ChatCompletionRequest(messages=[message], model=model, **fields)

        answer = await chat.asyncio_detailed(client=client, body=request(MODEL))
        listed = await list_models.asyncio_detailed(client=client)
        unknown = await chat.asyncio_detailed(client=client, body=request("openai/gpt-4o"))
        invalid = await chat.asyncio_detailed(client=client, body=request(MODEL, temperature=5.0))
        unauthenticated = await list_models.asyncio_detailed(client=anonymous)
    assert answer.status_code == 200 and isinstance(answer.parsed, models.ChatCompletion)
    assert answer.parsed.choices[0].message.content == "echo: hello"
    assert [card.id for card in listed.parsed.data] == [MODEL]
    for reply, status, code in ((unknown, 404, "model_not_found"), (invalid, 422, "invalid_request")):
        assert reply.status_code == status
        assert isinstance(reply.parsed, models.ErrorBody), reply.content
        assert reply.parsed.error.code == code
    assert unauthenticated.status_code == 401 and unauthenticated.parsed.error.type_ == "authentication_error"
