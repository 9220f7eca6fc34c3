"""Bus subjects: tenant tokens, validation, wildcard matching."""

from __future__ import annotations

import pytest

from motadata_ai.domain.bus.subjects import (
    InvalidSubject,
    agent_subject,
    event_subject,
    subject_matches,
    tenant_of,
    tenant_pattern,
    tenant_token,
    validate_subject,
)
from motadata_ai.domain.values.errors import InvalidTenant
from motadata_ai.domain.values.tenancy import TenantContext


def test_agent_subject_puts_the_tenant_second() -> None:
    assert agent_subject("acme", "triage") == "agent.acme.triage.task"
    assert agent_subject(TenantContext(tenant_id="acme"), "triage", "result") == "agent.acme.triage.result"
    assert event_subject("acme", "incident", "created") == "events.acme.incident.created"
    assert tenant_pattern("agent", "acme") == "agent.acme.>"


def test_dotted_tenants_are_encoded_and_decoded() -> None:
    subject = agent_subject("acme.eu", "bot")
    assert subject == "agent.acme~eu.bot.task"
    assert tenant_of(subject) == "acme.eu"
    assert tenant_token("acme.eu") != tenant_token("acme")
    assert not subject_matches(tenant_pattern("agent", "acme"), subject)


@pytest.mark.parametrize("tenant", ["", "a b", "x" * 65, "a*b", "a>b"])
def test_invalid_tenants_are_rejected(tenant: str) -> None:
    with pytest.raises(InvalidTenant):
        agent_subject(tenant, "bot")


@pytest.mark.parametrize("token", ["", "a.b", "*", ">", "a b", "tab\t", "x*"])
def test_tokens_with_separators_wildcards_or_whitespace_are_rejected(token: str) -> None:
    with pytest.raises(InvalidSubject):
        agent_subject("acme", token)
    with pytest.raises(InvalidSubject):
        event_subject("acme", token)


def test_event_subject_needs_a_name() -> None:
    with pytest.raises(InvalidSubject):
        event_subject("acme")


@pytest.mark.parametrize(
    "subject",
    ["", "agent", "agent.acme", "agent.acme.*", "agent.*.x", "agent.acme.>", "agent..x", "agent.a b.x",
     "agent.ac!me.x", "a" * 600],
)
def test_publish_subjects_must_be_concrete_and_carry_a_tenant(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        validate_subject(subject)


@pytest.mark.parametrize("subject", ["agent.*.x.task", "agent.acme.>", ">", "agent.*.*.*"])
def test_subscription_subjects_may_use_wildcards(subject: str) -> None:
    assert validate_subject(subject, allow_wildcards=True) == subject


@pytest.mark.parametrize("subject", ["agent.>.x", "agent.a*.x", "agent..x", ""])
def test_misplaced_wildcards_are_rejected_in_subscriptions(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        validate_subject(subject, allow_wildcards=True)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("agent.acme.bot.task", "agent.acme.bot.task", True),
        ("agent.*.bot.task", "agent.acme.bot.task", True),
        ("agent.*.bot.task", "agent.acme.bot.result", False),
        ("agent.acme.>", "agent.acme.bot.task", True),
        ("agent.acme.>", "agent.acme", False),
        ("agent.>", "agent.acme.bot.task", True),
        (">", "anything.at.all", True),
        ("agent.*", "agent.acme.bot", False),
        ("agent.acme.bot", "agent.acme.bot.task", False),
        ("agent.acme.bot.task.x", "agent.acme.bot.task", False),
        ("agent.acme.>", "agent.acmecorp.bot.task", False),
    ],
)
def test_subject_matches(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


def test_tenant_of_rejects_subjects_without_a_tenant() -> None:
    for subject in ("agent", "agent.acme", "agent.a b.x", "agent.a!b.x"):
        with pytest.raises(InvalidSubject):
            tenant_of(subject)
