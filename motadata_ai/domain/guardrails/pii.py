"""PII and secret detection and redaction: the matches of one pass of every pattern over the text.

Kinds: ``secret`` (API keys, tokens, private keys, ``password=...`` values), ``credit_card``
(13-19 digits passing the Luhn check), ``ssn`` (US social security numbers), ``email``, ``phone``,
``ip_address`` (IPv4 and IPv6). Each match becomes ``[REDACTED_<KIND>]``.

Redaction finds what one ``sub`` of the alternation of every pattern would find: the leftmost
match, the earlier pattern's at the same position. Most patterns can start at almost any
character, so that ``sub`` has Python's ``re`` try all of them at every position (about 0.55 ms
for a 700-character passage). Each pattern therefore has a *probe*: a cheap test that every text
it can match passes (a literal it must contain, a run of digits in the text's shape, a
separator). Only the patterns whose probes pass are run, each compiled once at import, and their
matches are merged in the alternation's order (a text that may hold more than three kinds runs the
whole alternation instead); a pattern that matches nowhere in the text never wins a position, so
the result is the same, and a text no probe passes is returned unscanned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from motadata_ai.domain.guardrails.folding import folded

ALL_KINDS: frozenset[str] = frozenset({"secret", "credit_card", "ssn", "email", "phone", "ip_address"})


# every ASCII digit to "0", every ASCII whitespace character (what \s matches) to a space
_ASCII_SHAPE = bytes.maketrans(b"0123456789\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f", b"0" * 10 + b" " * 9)
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the probes look at: the text; its :func:`~.folding.folded` form; its shape, the text
    with every digit (``\\d``) a "0" and every whitespace character (``\\s``) a space, so "a run
    of three digits" is ``"000" in shape``."""

    text: str
    folded: str
    shape: str

    @classmethod
    def of(cls, text: str) -> _Seen:
        if text.isascii():  # bytes.translate: one fast pass
            shape = text.encode("ascii").translate(_ASCII_SHAPE).decode("ascii")
        else:  # other scripts' digits and spaces too
            shape = _SPACE.sub(" ", _DIGIT.sub("0", text))
        return cls(text, folded(text), shape)


Probe = Callable[[_Seen], bool]


def _has(*needles: str) -> Probe:
    """A probe: the text holds one of ``needles``."""
    return lambda seen: any(needle in seen.text for needle in needles)


def _shows(*needles: str) -> Probe:
    """A probe: the text's shape holds one of ``needles``."""
    return lambda seen: any(needle in seen.shape for needle in needles)


def _finds(pattern: str) -> Probe:
    """A probe: ``pattern`` (starting with a literal, so ``re`` skips ahead to its candidates)
    occurs in the text."""
    search = re.compile(pattern).search
    return lambda seen: search(seen.text) is not None


# in the shape: four numbers and dots; thirteen digits with at most one separator between two
_DOTTED_QUAD = re.compile(r"0\.0{1,3}\.0{1,3}\.0").search
_CARD_DIGITS = re.compile(r"0(?:[ -]?0){12}").search


_SECRETS: tuple[tuple[str, Probe], ...] = (
    (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        _has("-----BEGIN "),
    ),
    (r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}", _has("sk-")),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", _has("AKIA", "ASIA")),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", _finds(r"gh[pousr]_")),
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", _has("github_pat_")),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", _finds(r"xox[abposr]-")),
    (r"\bAIza[0-9A-Za-z_-]{35}\b", _has("AIza")),
    (r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", _has("eyJ")),
    (r"(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{20,}=*", lambda seen: "bearer" in seen.folded),
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
_IPV4 = rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)"  # a sentence may end right after it
_IPV6 = (
    rf"(?<![:\w])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?"
    rf"|::(?:{_H}(?::{_H}){{0,6}}))(?![:\w])"
)
# the folded end of every name _ASSIGNED matches, then its separator
_ASSIGNED_NAMES = ("key", "secret", "passw", "pwd", "token")
_ASSIGNED_END = re.compile(r"(?:key|secret|passw(?:or)?d|pwd|token)[\"']?\s*[:=]").search

# (kind, pattern, probe) in the alternation's order ("assign": a secret whose value alone goes)
_BRANCHES: tuple[tuple[str, str, Probe], ...] = (
    *(("secret", pattern, probe) for pattern, probe in _SECRETS),
    (
        "assign",
        _ASSIGNED,
        lambda seen: (
            (":" in seen.text or "=" in seen.text)
            and any(name in seen.folded for name in _ASSIGNED_NAMES)
            and _ASSIGNED_END(seen.folded) is not None
        ),
    ),
    ("credit_card", _CARD, lambda seen: seen.shape.count("0") >= 13 and _CARD_DIGITS(seen.shape) is not None),
    ("ssn", _SSN, _shows("000-00-0000")),
    ("email", _EMAIL, _has("@")),
    ("ip_address", _IPV4, lambda seen: "0.0" in seen.shape and _DOTTED_QUAD(seen.shape) is not None),
    ("ip_address", _IPV6, lambda seen: "::" in seen.text or seen.text.count(":") >= 7),
    ("phone", _PHONE, _shows("000 000", "000.000", "000-000", "+0000000")),
)
_COMPILED = tuple(re.compile(pattern) for _, pattern, _ in _BRANCHES)
_WHOLE = re.compile("|".join(f"(?P<b{i}>{pattern})" for i, (_, pattern, _) in enumerate(_BRANCHES)))
_MERGED_AT_MOST = 3
"""Up to this many possible patterns are searched one by one and merged; above it the whole
alternation runs (a 135,000-character text holding every kind: 0.12 s merged, 0.06 s whole)."""


def possible_branches(text: str) -> tuple[int, ...]:
    """The patterns (indexes into the pass) whose probes ``text`` passes: the only ones that can
    match in it."""
    seen = _Seen.of(text)
    return tuple(i for i, (_, _, probe) in enumerate(_BRANCHES) if probe(seen))


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
    branches = possible_branches(text)
    if not branches:
        return Redaction(text=text)
    found: dict[str, int] = {}
    replace = _replacer(kinds, found)
    if len(branches) == 1:
        kind = _BRANCHES[branches[0]][0]
        redacted = _COMPILED[branches[0]].sub(lambda match: replace(kind, match), text)
    elif len(branches) <= _MERGED_AT_MOST:
        redacted = _substitute(branches, replace, text)
    else:  # a text that may hold many kinds: one pass of the whole alternation is cheaper
        redacted = _whole_sub(replace, text)
    return Redaction(text=redacted, found=found)


def _substitute(branches: tuple[int, ...], replace: Callable[[str, re.Match[str]], str], text: str) -> str:
    """What ``sub`` of the alternation of ``branches`` gives: the leftmost match of any of them,
    the earliest branch's at the same start, then on from its end. Each branch's next match is
    kept until the scan passes its start (a search from ``pos`` still sees the text before it, as
    lookbehinds and ``\\b`` need)."""
    patterns = [_COMPILED[i] for i in branches]
    upcoming = [pattern.search(text) for pattern in patterns]
    parts: list[str] = []
    pos = 0
    while True:
        best, best_start = -1, len(text) + 1
        for index, match in enumerate(upcoming):
            if match is not None and match.start() < pos:
                match = upcoming[index] = patterns[index].search(text, pos)
            if match is not None and match.start() < best_start:
                best, best_start = index, match.start()
        chosen = upcoming[best] if best >= 0 else None
        if chosen is None:
            break
        parts += [text[pos : chosen.start()], replace(_BRANCHES[branches[best]][0], chosen)]
        pos = chosen.end()
    parts.append(text[pos:])
    return "".join(parts)


def _replacer(kinds: Collection[str], found: dict[str, int]) -> Callable[[str, re.Match[str]], str]:
    """What a match of a pattern of ``kind`` becomes; counts the redactions in ``found``."""

    def replace(kind: str, match: re.Match[str]) -> str:
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

    return replace


def _whole_sub(replace: Callable[[str, re.Match[str]], str], text: str) -> str:
    return _WHOLE.sub(lambda m: replace(_BRANCHES[int((m.lastgroup or "b0")[1:])][0], m), text)


def redact_unprobed(text: str, kinds: Collection[str] = ALL_KINDS) -> Redaction:
    """:func:`redact` as one ``sub`` of the alternation of every pattern, no probe consulted: the
    reference the probes and the merged scan are tested against."""
    found: dict[str, int] = {}
    return Redaction(text=_whole_sub(_replacer(kinds, found), text), found=found)


def detect(text: str, kinds: Collection[str] = ALL_KINDS) -> dict[str, int]:
    """How many matches of each kind ``text`` holds (nothing is changed)."""
    return redact(text, kinds).found
