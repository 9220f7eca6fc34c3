"""Tool and parameter descriptions read from a docstring in Google, NumPy or Sphinx style.

The style is inferred and the docstring parsed with griffe, as pydantic-ai does. This is the
only module of the SDK that imports ``griffe``.
"""

from __future__ import annotations


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description and per-parameter descriptions of a Google, NumPy or Sphinx docstring.

    The description is the docstring's text before its first section (``Args:``, ``Parameters``
    with its underline, ``:param ...:``), wrapped lines joined and paragraphs kept; ``Returns``,
    ``Raises`` and the other sections are not part of it. A docstring without sections is all
    description; one whose style cannot be told is read as Google style.
    """
    if not doc or not doc.strip():
        return "", {}
    import griffe  # on first use: importing the agents package stays light

    parameter_sections = (
        griffe.DocstringSectionKind.parameters,
        griffe.DocstringSectionKind.other_parameters,
    )
    docstring = griffe.Docstring(doc, lineno=1)
    style, _ = griffe.infer_docstring_style(docstring, default=griffe.Parser.google)
    sections = griffe.parse(docstring, style, warnings=False)
    summary = ""
    if sections and sections[0].kind is griffe.DocstringSectionKind.text:
        summary = _paragraphs(str(sections[0].value))
    params: dict[str, str] = {}
    for section in sections:
        if section.kind in parameter_sections:
            for parameter in section.value:
                params.setdefault(parameter.name, " ".join(parameter.description.split()))
    return summary, params


def _paragraphs(text: str) -> str:
    """Join wrapped lines, keep blank-line paragraph breaks."""
    paragraphs = (" ".join(block.split()) for block in text.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)
