"""The experiment step: deterministic A/B arms of models and prompt versions, carried to the ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from motadata_ai.domain.gateway.config import TenantPolicy
from motadata_ai.domain.gateway.experiments import Experiment, PromptRef, arm_of
from motadata_ai.domain.values.errors import NotFound

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]

MODELS = Experiment(name="cheaper", champion_model="test/model", challenger_model="test/cheap", share=0.3)


def rig_with(make_rig: RigFactory, *experiments: Experiment) -> Rig:
    return make_rig(lambda r: "ok", experiments=experiments, requests_per_minute=None, enable_caching=False)


async def test_a_model_split_by_request_gives_the_challenger_its_share(make_rig: RigFactory) -> None:
    experiment = MODELS.model_copy(update={"split_by": "request"})
    rig = rig_with(make_rig, experiment)
    total = 2000
    for n in range(total):
        await rig.gateway.generate(ask(f"ticket {n}"), tenant_id="acme")
    await rig.gateway.generate(ask("elsewhere", model="test/third"), tenant_id="acme")
    await rig.gateway.flush()
    sent = Counter(request.model for request in rig.llm.calls)
    assert sent["test/third"] == 1
    assert abs(sent["test/cheap"] / total - 0.3) < 0.04
    records = await rig.ledger.usage_records(tenant="acme", limit=total + 1)
    arms = Counter((r.experiment, r.arm, r.model) for r in records)
    assert arms[("cheaper", "challenger", "test/cheap")] == sent["test/cheap"]
    assert arms[("cheaper", "champion", "test/model")] == sent["test/model"]
    assert arms[(None, None, "test/third")] == 1


async def test_a_split_by_user_keeps_each_user_on_one_arm(make_rig: RigFactory) -> None:
    rig = rig_with(make_rig, MODELS)
    users = [f"user-{n}" for n in range(400)]
    for user in users:
        for repeat in range(3):
            await rig.gateway.generate(ask(f"{user} asks {repeat}"), tenant_id="acme", user_id=user)
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", limit=10_000)
    per_user: dict[str, set[str]] = {}
    for record in records:
        per_user.setdefault(str(record.user_id), set()).add(str(record.arm))
    assert all(len(arms) == 1 for arms in per_user.values())
    challengers = sum(1 for arms in per_user.values() if arms == {"challenger"})
    assert abs(challengers / len(users) - 0.3) < 0.07
    assert all(per_user[u] == {arm_of(MODELS, u)} for u in users)


async def test_a_prompt_experiment_renders_each_arms_version(make_rig: RigFactory) -> None:
    experiment = Experiment(
        name="triage-wording", template="triage", champion_version=1, challenger_version=2, share=0.5
    )
    rig = rig_with(make_rig, experiment)
    rig.gateway.prompts.register("triage", "Classify: {{ ticket }}")
    rig.gateway.prompts.register("triage", "You triage ITSM tickets. Ticket: {{ ticket }}")
    users = [f"user-{n}" for n in range(40)]
    for user in users:
        prompt = PromptRef("triage", {"ticket": f"printer of {user}"})
        await rig.gateway.generate(ask("which queue?"), tenant_id="acme", user_id=user, prompt=prompt)
    pinned = PromptRef("triage", {"ticket": "vpn"}, version=1)
    await rig.gateway.generate(ask("which queue?"), tenant_id="acme", prompt=pinned)
    await rig.gateway.flush()
    systems = [request.messages[0].content for request in rig.llm.calls]
    for user, system in zip(users, systems, strict=False):
        expected = (
            f"Classify: printer of {user}"
            if arm_of(experiment, user) == "champion"
            else f"You triage ITSM tickets. Ticket: printer of {user}"
        )
        assert system == expected
    assert systems[-1] == "Classify: vpn"
    records = {r.user_id: r for r in await rig.ledger.usage_records(tenant="acme", limit=100)}
    assert {records[u].arm for u in users} == {"champion", "challenger"}
    assert records[None].experiment is None  # a pinned version takes part in no experiment
    assert [m.role for m in rig.llm.calls[0].messages] == ["system", "user"]


async def test_a_prompt_that_is_not_registered_is_not_found(make_rig: RigFactory) -> None:
    rig = rig_with(make_rig)
    with pytest.raises(NotFound):
        await rig.gateway.generate(ask("q"), tenant_id="acme", prompt=PromptRef("missing"))
    assert rig.llm.calls == []


async def test_a_disabled_experiment_takes_no_part(make_rig: RigFactory) -> None:
    rig = rig_with(make_rig, MODELS.model_copy(update={"enabled": False, "share": 1.0}))
    await rig.gateway.generate(ask("q"), tenant_id="acme")
    assert [r.model for r in rig.llm.calls] == ["test/model"]


async def test_a_tenants_experiment_leaves_other_tenants_alone(make_rig: RigFactory) -> None:
    rig = rig_with(make_rig)
    everyone = MODELS.model_copy(update={"share": 1.0})
    rig.gateway.set_tenant_policy("acme", TenantPolicy(experiments=(everyone,)))
    await rig.gateway.generate(ask("q"), tenant_id="acme")
    await rig.gateway.generate(ask("q"), tenant_id="globex")
    assert [r.model for r in rig.llm.calls] == ["test/cheap", "test/model"]


async def test_a_stream_takes_its_arm_too(make_rig: RigFactory) -> None:
    rig = rig_with(make_rig, MODELS.model_copy(update={"share": 1.0}))
    chunks = [chunk async for chunk in rig.gateway.stream(ask("stream it"), tenant_id="acme", user_id="bob")]
    await rig.gateway.flush()
    assert "".join(c.delta for c in chunks) == "ok"
    assert [r.model for r in rig.llm.calls] == ["test/cheap"]
    (record,) = await rig.ledger.usage_records(tenant="acme")
    assert (record.experiment, record.arm, record.model) == ("cheaper", "challenger", "test/cheap")
