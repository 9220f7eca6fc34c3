"""HTML to Markdown with the page's boilerplate dropped (BeautifulSoup + markdownify).

The article is the page's only ``<article>``, else its ``<main>`` (or ``role="main"``), else
its ``<body>``. Inside it, what is not content is removed before conversion: scripts, styles,
forms and embedded objects; navigation, asides, footers, and headers outside an article or main;
the ARIA landmarks of the same roles; hidden elements; and elements whose ``class`` or ``id`` is a
usual boilerplate name (``breadcrumb``, ``sidebar``, ``cookie-banner`` ...). markdownify then
writes ATX headings, ``-`` lists, numbered lists, pipe tables and fenced code, so the
Markdown-aware chunker cuts at the page's own headings.

Measured against trafilatura (the other maintained extractor that installs here): on small
pages trafilatura drops a body-level ``<h1>`` and, under its 250-character minimum, falls back
to an extraction that loses headings altogether, so its output is not a stable input for a
heading-aware chunker; this explicit rule set keeps every heading of the article.
"""

from __future__ import annotations

import re
from typing import Any

from motadata_ai.adapters.parsers.extras import require
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.adapters.parsers.text import decode_text
from motadata_ai.domain.values.documents import Document

_DROPPED_TAGS = [
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "form", "button", "input", "select", "textarea", "dialog", "nav", "aside", "footer", "menu",
    "head", "link", "meta",
]  # fmt: skip
_DROPPED_ROLES = {
    "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar",
    "dialog", "alertdialog", "toolbar",
}  # fmt: skip
_BOILERPLATE_NAMES = {
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "sidebar", "footer",
    "site-header", "site-footer", "site-nav", "page-footer", "global-nav", "top-nav", "skip-link",
    "skip-links", "cookie", "cookies", "cookie-banner", "cookie-consent", "consent", "share",
    "social", "social-links", "related", "related-articles", "advert", "advertisement", "ads",
    "promo", "newsletter", "pagination", "pager", "print-only",
}  # fmt: skip
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _bs4() -> Any:
    return require("bs4", package="beautifulsoup4", extra=None, source="HTML")


def html_to_markdown(html: str) -> tuple[str, str]:
    """The article of an HTML page as Markdown (see the module doc), and the page's title."""
    bs4 = _bs4()
    markdownify = require("markdownify", package="markdownify", extra=None, source="HTML")
    soup = bs4.BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag is not None else ""
    root = _article(soup)
    _drop_boilerplate(root)
    if not title:
        heading = root.find("h1")
        title = " ".join(heading.get_text(" ").split()) if heading is not None else ""
    converter = markdownify.MarkdownConverter(
        heading_style="ATX",
        bullets="-",
        strip=["a", "img"],
        escape_underscores=False,
        escape_asterisks=False,
        code_language="",
    )
    text = converter.convert_soup(root)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), title


def _article(soup: Any) -> Any:
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    main = soup.find("main") or soup.find(attrs={"role": "main"})
    if main is not None:
        return main
    return soup.body or soup


def _drop_boilerplate(root: Any) -> None:
    for tag in root.find_all(_DROPPED_TAGS):
        tag.decompose()
    for tag in root.find_all("header"):
        if tag.find_parent(["article", "main"]) is None and root.name not in ("article", "main"):
            tag.decompose()
    for tag in root.find_all(True):
        if tag.decomposed:
            continue
        if _is_boilerplate(tag):
            tag.decompose()


def _is_boilerplate(tag: Any) -> bool:
    attrs = tag.attrs or {}
    if str(attrs.get("role", "")).lower() in _DROPPED_ROLES:
        return True
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    if _HIDDEN_STYLE.search(str(attrs.get("style", ""))):
        return True
    names = [str(name).lower() for name in attrs.get("class", []) or []]
    if attrs.get("id"):
        names.append(str(attrs["id"]).lower())
    return any(name in _BOILERPLATE_NAMES for name in names)


def parse_html(file: ParsedFile) -> list[Document]:
    """An ``.html`` file: its article as one Markdown document, titled by ``<title>`` or ``<h1>``."""
    text, title = html_to_markdown(decode_text(file.id, file.data))
    file.budget.add(text)
    return [file.document(text, title=title, format="markdown")]
