"""ParseBudget: one file's limits while it is parsed — the extracted text's size and a deadline.

Extractors call :meth:`ParseBudget.add` with each piece of text they produce and
:meth:`ParseBudget.check` between units of work (pages, rows, slides, operators of a PDF page),
so a file whose text grows past ``max_bytes`` or whose parse runs past its deadline stops at
the next piece instead of running to the end. The async side abandons the worker thread at the
deadline and calls :meth:`ParseBudget.abandon`, so the thread stops at its next check.
"""

from __future__ import annotations

import time

from motadata_ai.ports.documents import DocumentParseTimeout, DocumentTooLarge


class ParseBudget:
    """The size and time limits of parsing one file (see the module doc)."""

    def __init__(self, source: str, *, max_bytes: int, timeout_seconds: float) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.size = 0
        self.exhausted = False
        self._deadline = time.monotonic() + timeout_seconds
        self._abandoned = False

    def abandon(self) -> None:
        """The caller gave up on this parse: the next :meth:`check` raises."""
        self._abandoned = True

    def check(self) -> None:
        """Raise :class:`DocumentParseTimeout` once the deadline has passed (or the parse was abandoned)."""
        if self._abandoned or time.monotonic() > self._deadline:
            self.exhausted = True
            raise self.timeout_error()

    def timeout_error(self) -> DocumentParseTimeout:
        """The error that says this file's parse ran out of time."""
        return DocumentParseTimeout(
            f"{self.source}: parsing took longer than {self.timeout_seconds:g} s and was abandoned "
            "(parsing.timeout_seconds)",
            source=self.source,
            field="timeout_seconds",
            timeout_seconds=self.timeout_seconds,
        )

    def add(self, text: str) -> str:
        """Count ``text`` against the extracted-text limit (then check the deadline); return it."""
        self.add_size(len(text.encode("utf-8", errors="surrogatepass")))
        return text

    def add_size(self, size: int) -> None:
        """Count ``size`` bytes of extracted text; raise :class:`DocumentTooLarge` past ``max_bytes``."""
        self.size += size
        if self.size > self.max_bytes:
            self.exhausted = True
            raise DocumentTooLarge(
                f"{self.source}: the extracted text passes the limit of {self.max_bytes} bytes "
                "(max_document_bytes); parsing stopped there",
                source=self.source,
                field="max_document_bytes",
                size=self.size,
                max_bytes=self.max_bytes,
            )
        self.check()

    def expands(self, what: str, size: int, *, limit: int | None = None) -> None:
        """Refuse a compressed part (``what``) expanding to ``size`` bytes, over ``limit`` (``max_bytes``)."""
        limit = self.max_bytes if limit is None else limit
        if size > limit:
            self.exhausted = True
            raise DocumentTooLarge(
                f"{self.source}: {what} expands to {size} bytes, over the limit of {limit} bytes "
                "(max_document_bytes); not parsed",
                source=self.source,
                field="max_document_bytes",
                size=size,
                max_bytes=limit,
            )
        self.check()
