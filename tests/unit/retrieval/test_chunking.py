"""Chunking: token bounds, overlap, Markdown sections and heading paths."""

from __future__ import annotations

import itertools

import pytest

from motadata_ai.domain.retrieval.chunking import Chunker, split_markdown_sections
from motadata_ai.domain.retrieval.tokens import approximate_token_count
from motadata_ai.domain.values.errors import ValidationError


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_every_chunk_fits_the_token_budget() -> None:
    text = "\n\n".join(words(37, f"p{p}x") + "." for p in range(30))
    chunker = Chunker(chunk_size=50, chunk_overlap=10)
    chunks = chunker.chunk(text)
    assert len(chunks) > 10
    assert all(c.tokens <= 50 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # nothing is lost: every word appears in some chunk
    joined = " ".join(c.text for c in chunks)
    assert all(f"p{p}x{i}" in joined for p in range(30) for i in range(37))


def test_adjacent_chunks_overlap_by_at_most_the_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunker = Chunker(chunk_size=40, chunk_overlap=10)
    chunks = chunker.chunk(text)
    for first, second in itertools.pairwise(chunks):
        shared = set(first.text.split()) & set(second.text.split())
        assert shared, "consecutive chunks share their boundary words"
        assert approximate_token_count(" ".join(sorted(shared))) <= 10 + 2


def test_no_overlap_means_disjoint_chunks() -> None:
    text = " ".join(f"word{i}" for i in range(300))
    chunks = Chunker(chunk_size=30, chunk_overlap=0).chunk(text)
    seen: list[str] = []
    for chunk in chunks:
        seen.extend(chunk.text.split())
    assert len(seen) == len(set(seen)) == 300


def test_prefers_paragraph_boundaries() -> None:
    paragraphs = [words(20, f"a{i}_") for i in range(4)]
    chunks = Chunker(chunk_size=45, chunk_overlap=0).chunk("\n\n".join(paragraphs))
    # two paragraphs (40 tokens + separator) fit, three do not: the split falls between paragraphs
    assert [c.text.count("\n\n") for c in chunks] == [1, 1]
    assert chunks[0].text.startswith("a0_0") and chunks[1].text.startswith("a2_0")


def test_a_word_longer_than_the_budget_is_split_by_characters() -> None:
    chunks = Chunker(chunk_size=5, chunk_overlap=0).chunk("x" * 200)
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == "x" * 200
    assert all(c.tokens <= 5 for c in chunks)


def test_markdown_sections_and_heading_paths() -> None:
    text = "# Guide\nintro\n\n## Install\nstep\n```\n# not a heading\n```\n### Linux\napt\n## Use\nrun"
    sections = split_markdown_sections(text)
    assert [s.headings for s in sections] == [
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "Linux"),
        ("Guide", "Use"),
    ]
    assert "# not a heading" in sections[1].text


def test_small_markdown_sections_are_packed_and_keep_their_boundaries() -> None:
    text = "\n\n".join(f"## Section {i}\n{words(30, f's{i}_')}" for i in range(6))
    chunks = Chunker(chunk_size=80, chunk_overlap=10).chunk(text, format="markdown")
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.text.startswith("## Section")  # every chunk starts at a heading
        assert chunk.tokens <= 80
    assert chunks[1].headings == ("Section 2",)


def test_large_markdown_section_is_split_with_its_heading_path() -> None:
    text = "# Manual\n\n## Networking\n\n" + "\n\n".join(words(30, f"n{i}_") + "." for i in range(10))
    chunks = Chunker(chunk_size=60, chunk_overlap=0).chunk(text, format="markdown")
    assert len(chunks) > 3
    assert all(c.tokens <= 60 for c in chunks)
    later = [c for c in chunks[1:] if c.headings == ("Manual", "Networking")]
    assert later[0].text.startswith("## Networking")
    assert len(later) > 2 and all(c.text.startswith("Manual > Networking\n") for c in later[1:])


def test_real_tokenizer_counts_are_used() -> None:
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text)  # one token per character

    chunks = Chunker(chunk_size=20, chunk_overlap=5, count_tokens=count).chunk("abc def ghi jkl mno pqr stu")
    assert calls and all(len(c.text) <= 20 for c in chunks)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValidationError) as caught:
        Chunker(chunk_size=size, chunk_overlap=overlap)
    assert caught.value.field in {"chunk_size", "chunk_overlap"}
