"""Document parsers: text, Markdown, HTML, PDF, Office, tables, e-mail and JSON exports (see ``files``)."""

from motadata_ai.adapters.parsers.files import FileDocumentParser
from motadata_ai.adapters.parsers.formats import FORMATS
from motadata_ai.adapters.parsers.html import html_to_markdown

__all__ = ["FORMATS", "FileDocumentParser", "html_to_markdown"]
