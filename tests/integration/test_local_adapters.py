"""The embedded default's models are in-process adapters behind the gateway: no LiteLLM is
imported, every gateway policy applies to them, and ``connect()`` returns with MiniLM loaded.

Run in a fresh interpreter (the test process may have imported LiteLLM for other tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from motadata_ai.api import connect
    from motadata_ai.adapters.local.minilm import shared_embedder
    from motadata_ai.domain.values.llm import ChatRequest, Message
    from motadata_ai.domain.values.errors import MotadataError
    from motadata_ai.domain.values.passages import Passage, format_passages
    from motadata_ai.settings import Settings

    async def main():
        settings = Settings(profile="memory", requests_per_minute=60, burst_size=3)
        async with connect(settings) as ai:
            loaded_at_connect = shared_embedder().loaded
            passage = Passage(index=1, title="VPN", text="The VPN gateway is vpn.example.com.")
            context = format_passages([passage])
            prompt = "Context:\\n" + context + "\\nQuestion: What is the VPN gateway?"
            request = ChatRequest(model="local/extractive", messages=(Message(role="user", content=prompt),))
            first = await ai.gateway.generate(request, tenant_id="acme")
            second = await ai.gateway.generate(request, tenant_id="acme")
            vectors = await ai.gateway.embed(["reset my password"], tenant_id="acme")
            again = await ai.gateway.embed(["reset my password"], tenant_id="acme")
            limited = None
            try:
                for i in range(5):
                    retry = request.model_copy(update={"seed": i})
                    await ai.gateway.generate(retry, tenant_id="acme", no_cache=True)
            except MotadataError as error:
                limited = type(error).__name__
            print(json.dumps({
                "loaded_at_connect": loaded_at_connect,
                "ready": ai.ready,
                "answer": first.text,
                "cached": [first.cached, second.cached, vectors.cached, again.cached],
                "dimensions": len(vectors.vectors[0]),
                "limited": limited,
                "litellm": "litellm" in sys.modules,
                "torch": "torch" in sys.modules,
                "sentence_transformers": "sentence_transformers" in sys.modules,
            }))

    asyncio.run(main())
    """
)


def test_local_models_run_in_process_under_every_gateway_policy() -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MOTADATA_") and k != "PYTEST_CURRENT_TEST"
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded_at_connect"] and report["ready"]  # connect() returned with MiniLM loaded
    assert report["answer"] == "The VPN gateway is vpn.example.com. [1]"
    assert report["cached"] == [False, True, False, True]  # the gateway's cache serves local models
    assert report["dimensions"] == 384
    assert report["limited"] == "RateLimited"  # burst of 3 requests: the rate limit applies
    assert {k: report[k] for k in ("litellm", "torch", "sentence_transformers")} == {
        "litellm": False,
        "torch": False,
        "sentence_transformers": False,
    }
