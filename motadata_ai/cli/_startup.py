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
        # one write per line: ``print`` writes the text and its newline separately, and standard
        # error is write-through, so output from another thread (a log line, ``-X importtime``)
        # could land between them and share the status line
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    return say
