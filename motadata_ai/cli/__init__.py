"""The ``motadata-ai`` command line: one argparse parser, sub-commands contributed by area modules.

Each area module (``rag``, ``agents``, ``ml``) exposes ``register(subparsers)``; a sub-command
sets ``func(args) -> int``. Heavy imports happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

_AREAS = ("motadata_ai.cli.rag", "motadata_ai.cli.agents", "motadata_ai.cli.ml", "motadata_ai.cli.privacy")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every area's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="motadata-ai",
        description="Motadata AI SDK: ingest knowledge, ask questions, run agents, train and serve models.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log what the SDK does")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _AREAS:
        importlib.import_module(name).register(subparsers)
    return parser


def _import_dependency_injector_without_fastapi() -> None:
    """Import ``dependency_injector`` with FastAPI hidden, in this CLI process only.

    Its wiring module imports FastAPI, when installed, to recognise ``Depends`` markers (close to
    a second of a cold start here). The SDK wires nothing, so the CLI hides FastAPI from that one
    import; ``serve`` still imports FastAPI itself. Library users are not touched: an application
    that wires FastAPI routes with dependency-injector imports it normally.
    """
    if "dependency_injector" in sys.modules or "fastapi" in sys.modules:
        return
    sys.modules["fastapi"] = None  # type: ignore[assignment]  # "import fastapi" raises ImportError
    try:
        import dependency_injector.containers
        import dependency_injector.providers  # noqa: F401
    finally:
        del sys.modules["fastapi"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    _import_dependency_injector_without_fastapi()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from motadata_ai.domain.values.errors import MotadataError

    try:
        return int(args.func(args) or 0)
    except MotadataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
