"""What the command line says while the SDK starts ("starting the embedded database…")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def status_printer(args: argparse.Namespace) -> Callable[[str], None]:
    """A ``connect(status=...)`` callback printing each start-up step on standard error
    (silent with ``--json``, so a script reading both streams gets only the JSON)."""
    if getattr(args, "json", False):
        return lambda _: None

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return say
