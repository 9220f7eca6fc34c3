"""Bus subjects: tenant tokens, validation, wildcard matching."""

from __future__ import annotations

import pytest

from motadata_ai.domain.bus.subjects import (
    NO_USER,
    InvalidSubject,
    agent_pattern,
    agent_subject,
    event_subject,
    subject_matches,
    tenant_of,
    tenant_pattern,
    tenant_token,
    user_of,
    user_pattern,
    user_token,
    validate_subject,
)
from motadata_ai.domain.values.errors import InvalidTenant
from motadata_ai.domain.values.tenancy import TenantContext


def test_agent_subject_puts_the_tenant_second_and_the_user_third() -> None:
    assert agent_subject("acme", "triage") == "agent.acme.nobody.triage.task"
    assert (
        agent_subject(TenantContext(tenant_id="acme"), "triage", "result")
        == "agent.acme.nobody.triage.result"
    )
    bob = agent_subject("acme", "triage", user_id="bob@example.com")
    assert bob == f"agent.acme.{user_token('bob@example.com')}.triage.task"
    assert "bob" not in bob  # a digest: subject names show in monitoring and traces
    assert subject_matches(agent_pattern("acme", "triage"), bob)
    assert subject_matches(agent_pattern("acme", "triage"), agent_subject("acme", "triage"))
    assert not subject_matches(agent_pattern("acme", "other"), bob)
    assert event_subject("acme", "incident", "created") == "events.acme.incident.created"
    assert tenant_pattern("agent", "acme") == "agent.acme.>"


def test_dotted_tenants_are_encoded_and_decoded() -> None:
    subject = agent_subject("acme.eu", "bot")
    assert subject == "agent.acme~eu.nobody.bot.task"
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


def test_one_user_pattern_selects_every_subject_of_that_user_and_no_other() -> None:
    pattern = user_pattern("agent", "acme", "bob")
    assert subject_matches(pattern, agent_subject("acme", "triage", user_id="bob"))
    assert subject_matches(pattern, agent_subject("acme", "billing", "result", user_id="bob"))
    assert not subject_matches(pattern, agent_subject("acme", "triage", user_id="alice"))
    assert not subject_matches(pattern, agent_subject("globex", "triage", user_id="bob"))
    assert not subject_matches(pattern, agent_subject("acme", "triage"))
    assert user_token("bob") == user_token("bob") != user_token("Bob")
    assert user_token(None) == NO_USER
    with pytest.raises(InvalidSubject):
        user_pattern("events", "acme", "bob")  # event subjects carry no user
    with pytest.raises(InvalidSubject):
        user_token("")


@pytest.mark.parametrize(
    "subject", ["agent.acme.triage.task", "agent.acme.bob.triage.task", "ingest.acme.job"]
)
def test_subjects_that_carry_users_must_have_a_whole_user_token(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        validate_subject(subject)
    assert user_of(agent_subject("acme", "triage", user_id="bob")) == user_token("bob")
    assert user_of("events.acme.ml.trained") is None
