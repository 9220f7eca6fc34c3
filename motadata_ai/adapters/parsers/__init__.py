"""Document parsers: plain text, Markdown, HTML (stdlib ``html.parser``) and PDF (pypdf)."""

from motadata_ai.adapters.parsers.files import FileDocumentParser, html_to_markdown

__all__ = ["FileDocumentParser", "html_to_markdown"]
