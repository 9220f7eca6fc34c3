"""PII redaction's probes: the narrowed pass finds exactly what the whole alternation finds.

``redact`` scans a text with only the patterns whose probes it passes (merging their matches
when several do); ``redact_unprobed`` runs one ``sub`` of the alternation of every pattern.
Texts are built from fragments near every pattern's edges (digits with separators, dotted
numbers, colons, assignment names in odd cases, Unicode digits, spaces and case variants the
``(?i)`` patterns match), so a probe that rejects a text its pattern matches, or a merge that
picks another match than the alternation would, shows up as a difference.
"""

from __future__ import annotations

import random

import pytest

from motadata_ai.domain.guardrails import pii

FRAGMENTS = (
    "reset your password", "Password: hunter2hunter2", "PASSWD = 'sw0rdfish!'", "paſsword: zzzzzzzz",
    "api_key=abcdef123456", "API-KEY : \"q1w2e3r4t5\"", "client_secret:xyzxyzxyz", "\u212aey = abcdefgh",
    "token:", "access-token = tok_123456789", "private_key: -----", "pwd=letmein99",
    "sk-proj-abcdefghijklmnopqrstuvwx12", "sk-short", "AKIAABCDEFGHIJKLMNOP", "ASIA0123456789ABCDEF",
    "ghp_" + "a" * 36, "gh_x", "github_pat_" + "b" * 45, "xoxb-1234567890-abc", "xox-",
    "AIza" + "C" * 35, "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.abcdefghijk", "Bearer abcdefghijklmnopqrstuvwxyz",
    "bEaReR   0123456789abcdefghij==", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "4111 1111 1111 1111", "4111-1111-1111-1112", "378282246310005", "1 2 3 4 5 6 7 8 9 0 1 2 3",
    "123-45-6789", "000-12-3456", "123-45-678", "jane.doe+it@corp.example.com", "a@b", "x@y.co",
    "+1 415-555-0132", "(415) 555-0132", "020 7946 0958", "+441234567", "555-0132", "12 345",
    "10.20.30.40", "256.1.1.1", "1.2.3.4.", "v1.2.3", "2001:db8::8a2e:370:7334", "::1", "fe80::",
    "a:b:c:d:e:f:a:b", "1:2:3:4:5:6:7:8", "12:30", "Note:", "ratio 3:2", "=", ":",
    "\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669",  # Arabic-Indic digits are \d
    "\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661",
    "415\u00a0555\u00a00132", "415\u2003555-0132", "123\x1c456\x1f7890",  # \s beyond ASCII and \x1c
    "caf\u00e9", "\u00df", "\u0130", "\u0131", "step 1", "Wi-Fi 5 GHz", "room 4.12", "ext. 2041",
)  # fmt: skip
JOINERS = (" ", "", "\n", ", ", ":", "=", "-", ".", "\t", "\u00a0")


def texts(seed: int, count: int) -> list[str]:
    """Random joins of fragments, some cut at a random place."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 6)):
            fragment = rng.choice(FRAGMENTS)
            if rng.random() < 0.2:
                fragment = fragment[: rng.randint(0, len(fragment))]
            parts.append(fragment)
            parts.append(rng.choice(JOINERS))
        out.append("".join(parts))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_narrowed_pass_redacts_what_the_whole_pass_redacts(seed: int) -> None:
    for text in texts(seed, 1500):
        expected = pii.redact_unprobed(text)
        got = pii.redact(text)
        assert (got.text, got.found) == (expected.text, expected.found), text


def test_each_fragment_alone_and_with_a_subset_of_kinds() -> None:
    for text in FRAGMENTS:
        for kinds in (pii.ALL_KINDS, {"phone"}, {"secret"}, {"credit_card", "ip_address"}):
            expected = pii.redact_unprobed(text, kinds)
            got = pii.redact(text, kinds)
            assert (got.text, got.found) == (expected.text, expected.found), (text, kinds)


def test_the_fragments_exercise_every_pattern() -> None:
    """Every pattern matches some fragment: the comparison above covers each of them."""
    matched = {
        pii._BRANCHES[i][0]
        for text in FRAGMENTS
        for i, pattern in enumerate(pii._COMPILED)
        if pattern.search(text)
    }
    assert matched == pii.ALL_KINDS | {"assign"}


def test_a_text_no_probe_passes_is_not_scanned() -> None:
    text = "Open the portal and choose Forgot password, then follow the link in the message."
    assert pii.possible_branches(text) == ()
    assert pii.redact(text).text == text


def test_probes_narrow_a_passage_to_the_patterns_it_can_hold() -> None:
    text = "Write to help@corp.example.com or call extension 41 from room 4.12."
    kinds = {pii._BRANCHES[i][0] for i in pii.possible_branches(text)}
    assert kinds == {"email"}  # no run of digits long enough for a phone, a card or an address
    assert pii.redact(text).found == {"email": 1}
