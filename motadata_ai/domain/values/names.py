"""Names the SDK puts into subjects, keys and paths (agent ids, ...), validated whole.

Every validator of a name in the SDK matches the *whole* value (``re.fullmatch``): a pattern
ending in ``$`` with ``re.match`` would accept a trailing newline.
"""

from __future__ import annotations

import re

from motadata_ai.domain.values.errors import ValidationError

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def validate_name(value: object, *, field: str) -> str:
    """Return ``value`` when it is 1-64 characters of ``[A-Za-z0-9_-]`` starting with a letter or
    digit, else raise :class:`ValidationError` naming ``field``."""
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise ValidationError(
            f"{field} {value!r:.80} must be 1-64 characters of [A-Za-z0-9_-], starting with a letter "
            "or digit",
            field=field,
        )
    return value
