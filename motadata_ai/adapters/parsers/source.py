"""ParsedFile: one file (or e-mail attachment) being parsed, and how its documents are made.

Every extractor receives a :class:`ParsedFile` and builds its documents with
:meth:`ParsedFile.document`, so each format keeps the same identity, source, owner and metadata
rules: the id and ``source`` are the file's absolute path (with a ``#fragment`` for a row,
record or attachment), the caller's metadata is kept, and ``file_type``/``file_name`` are added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motadata_ai.adapters.parsers.budget import ParseBudget
from motadata_ai.domain.values.documents import MAX_DOCUMENT_ID_LENGTH, Document
from motadata_ai.domain.values.parsing import ParseOptions


@dataclass
class ParsedFile:
    """The bytes of one file with its name, limits, options and the caller's owner/metadata."""

    id: str
    name: str
    kind: str
    data: bytes
    budget: ParseBudget
    options: ParseOptions
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    depth: int = 0

    @property
    def stem_title(self) -> str:
        """A title made from the file name (``vpn-setup.md`` → ``Vpn setup``)."""
        return Path(self.name).stem.replace("-", " ").replace("_", " ").strip().capitalize()

    def document_id(self, fragment: str | None = None) -> str:
        """The id of the file's document, or of its part named ``fragment`` (hashed when too long)."""
        if fragment is None:
            return self.id
        candidate = f"{self.id}#{fragment}"
        if len(candidate) <= MAX_DOCUMENT_ID_LENGTH:
            return candidate
        digest = hashlib.blake2b(fragment.encode("utf-8", errors="surrogatepass"), digest_size=16).hexdigest()
        return f"{self.id[: MAX_DOCUMENT_ID_LENGTH - 40]}#{digest}"

    def document(
        self,
        text: str,
        *,
        title: str,
        format: str,
        fragment: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Document:
        """One document of this file (see the module doc); ``metadata`` adds format-specific fields."""
        identity = self.document_id(fragment)
        return Document(
            id=identity,
            text=text,
            title=title or self.stem_title,
            source=identity,
            format=format,
            user_id=self.user_id,
            metadata={**self.metadata, **(metadata or {}), "file_type": self.kind, "file_name": self.name},
        )
