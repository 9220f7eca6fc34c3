"""``motadata-ai ingest PATH`` and ``motadata-ai ask "QUESTION"``: RAG from the command line.

Both obtain the tenant's :class:`~motadata_ai.domain.retrieval.RAGSystem` through
``motadata_ai.api.connect()``, so they run on the embedded default (embedded PostgreSQL +
pgvector in the data directory, local MiniLM embeddings, local extractive answers) or on the
services profile when the environment points at PostgreSQL, Redis and NATS.

``--mode`` of ``ask`` picks the retrieval: ``hybrid`` (dense + keyword with reciprocal rank
fusion, the default), ``dense``, ``keyword``; ``rag`` is the same as ``hybrid``. ``auto``,
``agent`` and ``both`` go through the unified query instead (RAG, an agent, or both).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
from typing import Any

RETRIEVAL_MODES = ("hybrid", "dense", "keyword")
UNIFIED_MODES = ("auto", "agent", "both")
ASK_MODES = ("hybrid", "dense", "keyword", "rag", *UNIFIED_MODES)


def register(subparsers: Any) -> None:
    """Add the ``ingest`` and ``ask`` sub-commands."""
    ingest = subparsers.add_parser(
        "ingest",
        help="ingest a file or a directory of documents into a tenant's knowledge base",
        description="Parse, chunk, embed and store documents (.md, .txt, .html, .pdf, .docx, .pptx, "
        ".xlsx, .csv, .eml, .msg, .json, .jsonl). Unchanged "
        "documents are skipped; changed ones become a new version.",
    )
    ingest.add_argument("path", metavar="PATH", help="a file or a directory (walked recursively)")
    _common(ingest)
    ingest.add_argument("--user", default=None, help="owner of the documents (for export and erasure)")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")
    ingest.set_defaults(func=run_ingest)

    ask = subparsers.add_parser(
        "ask",
        help="answer a question from a tenant's knowledge base, with sources",
        description="Retrieve the best passages and answer with numbered citations.",
    )
    ask.add_argument("question", metavar="QUESTION", help="the question, quoted")
    _common(ask)
    ask.add_argument("--top-k", type=int, default=None, help="passages to retrieve (default 5)")
    ask.add_argument(
        "--mode",
        choices=ASK_MODES,
        default="hybrid",
        help="retrieval: hybrid (dense + keyword, RRF; default), dense, keyword; rag = hybrid; "
        "auto, agent, both: the unified query (route to RAG, an agent, or both)",
    )
    ask.add_argument("--conversation", default=None, help="conversation id: earlier turns inform the answer")
    ask.add_argument("--user", default=None, help="user asking (stored with the conversation turn)")
    ask.set_defaults(func=run_ask)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", default="default", help="tenant id (default: default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


async def _rag_system(ai: Any, tenant: str) -> Any:
    system = ai.rag(tenant)
    if inspect.isawaitable(system):
        system = await system
    return system


def run_ingest(args: argparse.Namespace) -> int:
    """Ingest ``args.path``; exit 1 when any file failed (the others are ingested)."""
    return asyncio.run(_ingest(args))


async def _ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from motadata_ai.api import connect
    from motadata_ai.cli._startup import status_printer

    bar: Any = None

    def progress(done: int, total: int, source: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=total,
                unit="doc",
                desc="ingest",
                file=sys.stderr,
                disable=args.no_progress or args.json,
                dynamic_ncols=True,
            )
        bar.total = total  # grows when a file holds several documents (rows, attachments)
        if done:
            bar.update(done - bar.n)
            bar.set_postfix_str(source.rsplit("/", 1)[-1][-30:], refresh=False)

    async with connect(warm_up=("embeddings",), status=status_printer(args)) as ai:
        rag = await _rag_system(ai, args.tenant)
        try:
            report = await rag.ingest(args.path, user_id=args.user, progress=progress)
        finally:
            if bar is not None:
                bar.close()
    if args.json:
        payload = report.model_dump(mode="json")
        payload.update(created=report.created, updated=report.updated, unchanged=report.unchanged)
        print(json.dumps(payload))
    else:
        print(
            f"tenant {report.tenant_id}: {report.created} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.failures)} failed; {report.chunks} chunks written"
        )
        for failure in report.failures:
            print(f"  failed: {failure.message} [{failure.error}]", file=sys.stderr)
    return 0 if report.ok else 1


def run_ask(args: argparse.Namespace) -> int:
    """Answer ``args.question`` and print the answer with its sources."""
    return asyncio.run(_ask(args))


async def _ask(args: argparse.Namespace) -> int:
    from motadata_ai.api import connect
    from motadata_ai.cli._startup import status_printer

    if args.mode in UNIFIED_MODES:
        from motadata_ai.cli.agents import unified_query

        args.text = args.question
        return await unified_query(args, args.mode)

    mode = "hybrid" if args.mode == "rag" else args.mode
    # keyword search embeds nothing: the embedding model is not loaded for it
    warm_up = ("llm",) if mode == "keyword" else True
    async with connect(warm_up=warm_up, status=status_printer(args)) as ai:
        rag = await _rag_system(ai, args.tenant)
        response = await rag.query(
            args.question,
            conversation_id=args.conversation,
            user_id=args.user,
            top_k=args.top_k,
            mode=mode,
        )
    if args.json:
        print(json.dumps(response.model_dump(mode="json")))
        return 0
    print(response.answer)
    shown = response.cited_sources or response.sources
    if shown:
        print("\nSources:")
        for source in shown:
            where = source.source or source.document_id
            print(
                f"  [{source.citation}] {source.title or source.document_id} "
                f"({where}, chunk {source.chunk_index}, score {source.score:.3f})"
            )
    print(
        f"\nmodel {response.model} · {response.total_tokens} tokens · ${response.cost_usd:.6f} "
        f"· trace {response.trace_id}"
    )
    return 0
