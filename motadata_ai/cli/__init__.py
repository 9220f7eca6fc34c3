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

_AREAS = ("motadata_ai.cli.rag", "motadata_ai.cli.agents", "motadata_ai.cli.ml")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
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
