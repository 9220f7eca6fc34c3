"""The README's Python quickstart, runnable on the embedded default (no service, no API key).

    python examples/quickstart.py            # uses a temporary data directory

Gateway call, RAG over the sample knowledge base, an agent task, the unified query and a small
ML model, all through one ``motadata_ai.connect()``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import motadata_ai
from motadata_ai import ChatRequest, Message
from motadata_ai.domain.values.ml import Dataset, DatasetSchema

KNOWLEDGE_BASE = Path(__file__).resolve().parent / "knowledge_base"


def lookup_asset(asset_tag: str) -> dict[str, str]:
    """Look up an asset in the CMDB by its tag."""
    return {"asset_tag": asset_tag, "model": "ThinkPad T14", "status": "in use"}


async def main() -> None:
    async with motadata_ai.connect() as ai:
        # Gateway: every LLM call and embedding (cached, rate limited, traced, charged per tenant).
        reply = await ai.gateway.generate(
            ChatRequest(
                model="local/extractive",
                messages=(
                    Message(role="system", content="[1] VPN: Restart the VPN client when the tunnel drops."),
                    Message(role="user", content="What do I do when the VPN tunnel drops?"),
                ),
            ),
            tenant_id="acme",
            user_id="u-1",
        )
        print("gateway:", reply.text)
        vectors = await ai.gateway.embed(["vpn", "mfa"], tenant_id="acme")
        print("embeddings:", len(vectors.vectors), "x", len(vectors.vectors[0]))

        # RAG over the sample knowledge base.
        rag = ai.rag("acme")
        report = await rag.ingest(str(KNOWLEDGE_BASE))
        print(f"ingested: {report.created} new, {report.unchanged} unchanged")
        answer = await rag.query("How do I reset my password?", conversation_id="c-42")
        print("rag:", answer.answer.splitlines()[0], [s.title for s in answer.cited_sources])

        # An agent with the knowledge_search tool and a tool of our own.
        agent = ai.agent("acme", tools=[lookup_asset])
        task = await agent.execute_task("What should I do when the VPN keeps disconnecting?")
        print("agent:", task.status, [call.name for call in task.tool_calls])

        # The unified query routes knowledge questions to RAG and actions to an agent.
        response = await ai.query("How do I set up MFA on a new phone?", tenant_id="acme", user_id="u-1")
        print("unified:", response.mode, "-", response.route_reason)

        # ML: a tiny model, registered, promoted and served.
        ml = ai.ml("acme")
        schema = DatasetSchema.of("made_sla", category="categorical", reassignments="numeric")
        rows = [
            {"category": ["network", "software", "hardware"][i % 3], "reassignments": i % 5,
             "made_sla": "yes" if i % 5 < 3 else "no"}
            for i in range(90)
        ]  # fmt: skip
        run = await ml.train(Dataset.from_records(rows, schema), model_name="sla")
        assert run.version is not None
        await ml.promote("sla", run.version)
        prediction = await ml.predict("sla", {"category": "network", "reassignments": 1})
        print("ml:", run.metrics.get("f1_macro"), "->", prediction.label)


if __name__ == "__main__":
    os.environ.setdefault("MOTADATA_DATA_DIR", tempfile.mkdtemp(prefix="motadata-quickstart-"))
    asyncio.run(main())
