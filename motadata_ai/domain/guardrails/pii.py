"""PII and secret detection and redaction: one compiled pass over the text.

Kinds: ``secret`` (API keys, tokens, private keys, ``password=...`` values), ``credit_card``
(13-19 digits passing the Luhn check), ``ssn`` (US social security numbers), ``email``, ``phone``,
``ip_address`` (IPv4 and IPv6). Each match becomes ``[REDACTED_<KIND>]``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

ALL_KINDS: frozenset[str] = frozenset({"secret", "credit_card", "ssn", "email", "phone", "ip_address"})

_SECRET = "|".join(
    [
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\bAIza[0-9A-Za-z_-]{35}\b",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        r"(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{20,}=*",
    ]
)
# ``api_key = value``: only the value is redacted (the group ``assigned``).
_ASSIGNED = (
    r"(?i:\b(?:api[_-]?key|secret(?:[_-]?key)?|password|passwd|pwd|access[_-]?token|auth[_-]?token"
    r"|client[_-]?secret|private[_-]?key)\b)[\"']?\s*[:=]\s*[\"']?(?P<assigned>[^\s\"',;]{6,})"
)
_CARD = r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"
_SSN = r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"
_EMAIL = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
_PHONE = (
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w-])"
    r"|(?<![\w+])\+\d{7,14}(?!\w)"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_H = r"[0-9A-Fa-f]{1,4}"
_IP = (
    rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)"  # a sentence may end right after it
    rf"|(?<![:\w])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?|::(?:{_H}(?::{_H}){{0,6}}))(?![:\w])"
)

_PATTERN = re.compile(
    f"(?P<secret>{_SECRET})|(?P<assign>{_ASSIGNED})|(?P<credit_card>{_CARD})|(?P<ssn>{_SSN})"
    f"|(?P<email>{_EMAIL})|(?P<ip_address>{_IP})|(?P<phone>{_PHONE})"
)


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` (digits only) passes the Luhn checksum used by payment cards."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(slots=True)
class Redaction:
    """The redacted text and how many matches of each kind were replaced."""

    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything was redacted."""
        return bool(self.found)


def redact(text: str, kinds: Collection[str] = ALL_KINDS) -> Redaction:
    """Replace every PII or secret match of ``kinds`` in ``text`` by ``[REDACTED_<KIND>]``."""
    found: dict[str, int] = {}

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup or ""
        whole = match.group(0)
        if kind == "assign":
            if "secret" not in kinds:
                return whole
            found["secret"] = found.get("secret", 0) + 1
            start = match.start("assigned") - match.start()
            return whole[:start] + "[REDACTED_SECRET]"
        if kind not in kinds:
            return whole
        if kind == "credit_card":
            digits = whole.replace(" ", "").replace("-", "")
            if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
                return whole
        found[kind] = found.get(kind, 0) + 1
        return f"[REDACTED_{kind.upper()}]"

    redacted = _PATTERN.sub(replace, text)
    return Redaction(text=redacted, found=found)


def detect(text: str, kinds: Collection[str] = ALL_KINDS) -> dict[str, int]:
    """How many matches of each kind ``text`` holds (nothing is changed)."""
    return redact(text, kinds).found
