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
import inspect
import json
import sys
from typing import Any

import click

from motadata_ai.cli._errors import EXIT_NOT_ANSWERED
from motadata_ai.cli._group import global_options, run

RETRIEVAL_MODES = ("hybrid", "dense", "keyword")
UNIFIED_MODES = ("auto", "agent", "both")
ASK_MODES = ("hybrid", "dense", "keyword", "rag", *UNIFIED_MODES)


@click.command(
    "ingest",
    short_help="Ingest a file or a directory into a tenant's knowledge base.",
    epilog="""\b
Examples:
  motadata-ai ingest examples/knowledge_base
  motadata-ai ingest ./kb --tenant acme --user alice --json
  motadata-ai ingest /shared/kb --background     # queued for `motadata-ai worker` (NATS)

\b
Exit code 1 when some files failed (the others are ingested; each failure is listed).
Variables: MOTADATA_CHUNK_SIZE, MOTADATA_CHUNK_OVERLAP, MOTADATA_MAX_DOCUMENT_BYTES,
MOTADATA_PARSING__TIMEOUT_SECONDS, MOTADATA_EMBEDDING_MODEL.""",
)
@click.argument("path", metavar="PATH")
@click.option("--user", default=None, metavar="USER", help="Owner of the documents (for export and erasure).")
@click.option("--no-progress", is_flag=True, help="No progress bar on standard error.")
@click.option(
    "--background",
    is_flag=True,
    help="Queue the work for the ingestion workers (`motadata-ai worker`, needs MOTADATA_NATS_URL) "
    "and print the job id; the path must be readable by the workers.",
)
@global_options()
@click.pass_context
def ingest(ctx: click.Context, /, **_: Any) -> int:
    """Parse, chunk, embed and store documents (.md, .txt, .html, .pdf, .docx, .pptx, .xlsx, .csv,
    .eml, .msg, .json, .jsonl). Unchanged documents are skipped; changed ones become a new
    version. PATH is a file or a directory (walked recursively)."""
    return run(_ingest, ctx)


@click.command(
    "ask",
    short_help="Answer a question from a tenant's knowledge base, with sources.",
    epilog="""\b
Examples:
  motadata-ai ask "How do I reset my password?"
  motadata-ai ask "What is the P1 resolution target?" --top-k 3 --mode keyword --json
  motadata-ai ask "Open a ticket: my laptop screen is broken" --mode auto

\b
When the knowledge base holds no answer, ask says so, lists no source and exits with code 4
("answered": false with --json).
Variables: MOTADATA_TOP_K, MOTADATA_SIMILARITY_THRESHOLD, MOTADATA_LLM_MODEL,
MOTADATA_ENABLE_RERANKING.""",
)
@click.argument("question", metavar="QUESTION")
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=None,
    help="Passages to retrieve (default MOTADATA_TOP_K, 5).",
)
@click.option(
    "--mode",
    type=click.Choice(ASK_MODES),
    default="hybrid",
    show_default=True,
    help="Retrieval: hybrid (dense + keyword, RRF), dense, keyword; rag = hybrid; "
    "auto, agent, both: the unified query (route to RAG, an agent, or both).",
)
@click.option(
    "--conversation", default=None, metavar="ID", help="Conversation id: earlier turns inform the answer."
)
@click.option("--user", default=None, metavar="USER", help="User asking (stored with the conversation turn).")
@global_options()
@click.pass_context
def ask(ctx: click.Context, /, **_: Any) -> int:
    """Retrieve the best passages for QUESTION and answer with numbered citations."""
    return run(_ask, ctx)


async def _rag_system(ai: Any, tenant: str) -> Any:
    system = ai.rag(tenant)
    if inspect.isawaitable(system):
        system = await system
    return system


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

    if getattr(args, "background", False):
        async with connect(warm_up=False, status=status_printer(args)) as ai:
            handle = await ai.rag(args.tenant).ingest(args.path, user_id=args.user, background=True)
        print(json.dumps({"job_id": handle.job_id}) if args.json else f"queued ingestion job {handle.job_id}")
        return 0
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
    answered = response.answered
    if args.json:
        print(json.dumps(response.model_dump(mode="json")))
        return 0 if answered else EXIT_NOT_ANSWERED
    print(response.answer)
    if answered:  # a refusal cites nothing, so no source is listed after it
        print("\nSources:")
        for source in response.cited_sources:
            where = source.source or source.document_id
            print(
                f"  [{source.citation}] {source.title or source.document_id} "
                f"({where}, chunk {source.chunk_index}, score {source.score:.3f})"
            )
    print(
        f"\nmodel {response.model} · {response.total_tokens} tokens · ${response.cost_usd:.6f} "
        f"· trace {response.trace_id}"
    )
    return 0 if answered else EXIT_NOT_ANSWERED
