"""Token-aware chunking: recursive splitting with overlap, and Markdown sections kept whole.

Sizes are in tokens of the injected ``count_tokens`` (the same counter sizes context budgets).
The recursive splitter tries paragraph breaks, then line breaks, then sentence ends, then
spaces, then characters, so a chunk breaks at the largest boundary that makes it fit; adjacent
chunks share up to ``chunk_overlap`` tokens of whole pieces. Markdown is first cut at headings
(outside fenced code); whole sections are packed together up to ``chunk_size`` and a section
too big for one chunk is split recursively, each later piece prefixed with its heading path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from motadata_ai.domain.retrieval.tokens import TokenCounter, approximate_token_count
from motadata_ai.domain.values.errors import ValidationError

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document: position, text, token count and the Markdown heading path."""

    index: int
    text: str
    tokens: int
    headings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarkdownSection:
    """The text under one heading (the heading line included) and its heading path."""

    headings: tuple[str, ...]
    text: str


def split_markdown_sections(text: str) -> list[MarkdownSection]:
    """Cut Markdown at ATX headings (``#`` .. ``######``) that are not inside fenced code."""
    sections: list[MarkdownSection] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    current_path: tuple[str, ...] = ()
    in_fence = False

    def flush() -> None:
        body = "\n".join(current).strip()
        if body:
            sections.append(MarkdownSection(headings=current_path, text=body))

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            current = []
            level = len(match.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, match.group(2)))
            current_path = tuple(title for _, title in path)
        current.append(line)
    flush()
    return sections


class Chunker:
    """Splits text into overlapping token-bounded chunks (Markdown-heading-aware for Markdown)."""

    def __init__(
        self,
        *,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        count_tokens: TokenCounter = approximate_token_count,
        separators: Sequence[str] = DEFAULT_SEPARATORS,
    ) -> None:
        if chunk_size < 1:
            raise ValidationError(f"chunk_size must be at least 1, got {chunk_size}", field="chunk_size")
        if chunk_overlap < 0 or chunk_overlap >= chunk_size:
            raise ValidationError(
                f"chunk_overlap must be in [0, chunk_size), got {chunk_overlap} with chunk_size {chunk_size}",
                field="chunk_overlap",
            )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.count_tokens = count_tokens
        self.separators = tuple(separators)

    # -- public --------------------------------------------------------------------------------

    def chunk(self, text: str, *, format: str = "text") -> list[Chunk]:
        """Chunks of ``text``; ``format="markdown"`` keeps sections whole where they fit."""
        if format == "markdown":
            pieces = self._markdown_pieces(text)
        else:
            pieces = [((), piece) for piece in self.split_text(text)]
        chunks: list[Chunk] = []
        for headings, piece in pieces:
            piece = piece.strip()
            if piece:
                chunks.append(
                    Chunk(index=len(chunks), text=piece, tokens=self.count_tokens(piece), headings=headings)
                )
        return chunks

    def split_text(self, text: str) -> list[str]:
        """Recursive split of plain text into pieces of at most ``chunk_size`` tokens."""
        return [piece for piece in self._split(text, self.separators, self.chunk_size) if piece.strip()]

    # -- recursive splitting ---------------------------------------------------------------------

    def _split(self, text: str, separators: Sequence[str], size: int) -> list[str]:
        separator = separators[-1]
        remaining: Sequence[str] = ()
        for position, candidate in enumerate(separators):
            if candidate == "":
                separator = candidate
                break
            if candidate in text:
                separator = candidate
                remaining = separators[position + 1 :]
                break
        if separator:
            parts = text.split(separator)
            # keep the separator with the piece before it, so joining restores the text
            splits = [part + separator for part in parts[:-1]] + [parts[-1]]
        else:
            splits = list(text)
        splits = [s for s in splits if s]
        output: list[str] = []
        fitting: list[str] = []
        for split in splits:
            if self.count_tokens(split) <= size:
                fitting.append(split)
                continue
            if fitting:
                output.extend(self._merge(fitting, size))
                fitting = []
            if remaining:
                output.extend(self._split(split, remaining, size))
            else:
                output.append(split)
        if fitting:
            output.extend(self._merge(fitting, size))
        return output

    def _merge(self, splits: list[str], size: int) -> list[str]:
        merged: list[str] = []
        window: list[str] = []
        window_tokens: list[int] = []
        total = 0
        for split in splits:
            tokens = self.count_tokens(split)
            if window and total + tokens > size:
                merged.append("".join(window))
                # slide: keep trailing pieces worth at most chunk_overlap tokens that leave room
                while window and (total > self.chunk_overlap or total + tokens > size):
                    total -= window_tokens.pop(0)
                    window.pop(0)
            window.append(split)
            window_tokens.append(tokens)
            total += tokens
        if window:
            merged.append("".join(window))
        return merged

    # -- markdown --------------------------------------------------------------------------------

    def _markdown_pieces(self, text: str) -> list[tuple[tuple[str, ...], str]]:
        pieces: list[tuple[tuple[str, ...], str]] = []
        pack: list[str] = []
        pack_headings: tuple[str, ...] = ()
        pack_tokens = 0

        def flush() -> None:
            nonlocal pack, pack_tokens
            if pack:
                pieces.append((pack_headings, "\n\n".join(pack)))
            pack, pack_tokens = [], 0

        for section in split_markdown_sections(text):
            tokens = self.count_tokens(section.text)
            if tokens > self.chunk_size:
                flush()
                pieces.extend(self._split_section(section))
                continue
            if pack and pack_tokens + tokens + 1 > self.chunk_size:
                flush()
            if not pack:
                pack_headings = section.headings
            pack.append(section.text)
            pack_tokens += tokens + (1 if len(pack) > 1 else 0)
        flush()
        return pieces

    def _split_section(self, section: MarkdownSection) -> list[tuple[tuple[str, ...], str]]:
        prefix = " > ".join(section.headings)
        prefix_tokens = self.count_tokens(prefix + "\n") if prefix else 0
        size = max(1, self.chunk_size - prefix_tokens)
        parts = [p for p in self._split(section.text, self.separators, size) if p.strip()]
        result: list[tuple[tuple[str, ...], str]] = []
        for position, part in enumerate(parts):
            body = part.strip()
            if position > 0 and prefix:
                body = f"{prefix}\n{body}"
            result.append((section.headings, body))
        return result
