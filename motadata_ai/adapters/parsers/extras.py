"""Importing a format's parser library, with :class:`ParserExtraMissing` naming the extra to install."""

from __future__ import annotations

import importlib
from typing import Any

from motadata_ai.ports.documents import ParserExtraMissing

DOCS_EXTRA = "docs"


def require(module: str, *, package: str, extra: str | None, source: str) -> Any:
    """Import ``module``; when it is missing raise :class:`ParserExtraMissing` for ``source``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        install = f"pip install 'motadata-ai-sdk[{extra}]'" if extra else f"pip install {package}"
        raise ParserExtraMissing(
            f"{source}: reading this type needs {package}, which is not installed ({install})",
            source=source,
            field="path",
            extra=extra,
            package=package,
        ) from error
