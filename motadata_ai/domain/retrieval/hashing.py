"""Content hashes and deterministic chunk ids.

A document's hash covers everything that decides its stored chunks: text, title, metadata,
owner, and the ingest settings (chunk size, overlap, embedding model). Re-ingesting with the
same hash does nothing; any difference makes a new version.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

from motadata_ai.domain.values.documents import Document


def normalise_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no trailing spaces on lines, no surrounding blank lines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def content_hash(document: Document, *, settings: dict[str, Any] | None = None) -> str:
    """SHA-256 (hex) of the document's normalised text, title, metadata, owner and ingest settings."""
    payload = {
        "text": normalise_text(document.text),
        "title": document.title,
        "format": document.format,
        "user_id": document.user_id,
        "metadata": document.metadata,
        "settings": settings or {},
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def chunk_id(tenant_id: str, document_id: str, version: int, chunk_index: int) -> str:
    """The deterministic id of one chunk of one document version (32 hex digits)."""
    key = f"{tenant_id}\x00{document_id}\x00{version}\x00{chunk_index}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()
