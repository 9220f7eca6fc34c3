"""The experiments use-case (``ai.experiments``): define a tenant's A/B experiments and compare
their arms on the ledger's figures.

An experiment is part of the tenant's gateway policy (:class:`TenantPolicy.experiments`); the
gateway's experiment step splits the traffic. :meth:`Experiments.set` checks the arms at
configuration time: a model the gateway does not know (:func:`known_models`) or a template
version the prompt registry lacks is :class:`ConfigurationError`. :meth:`Experiments.compare`
reports per arm: calls, cost, p50/p95 latency, error rate, and the feedback given on its
responses (``gateway.record_feedback``), with counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.experiments import ArmReport, Experiment, ExperimentReport, arm_of
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.llmops.budgets import policy_with
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.domain.values.errors import ConfigurationError, NotFound, ValidationError
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.domain.values.usage import Arm, ArmSummary
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["Experiments", "known_models"]


def known_models(
    policy: GatewayConfig, priced: Callable[[str], bool] = lambda _: False
) -> Callable[[str], bool]:
    """Whether a model is one the gateway knows for ``policy``: in its ``allowed_models`` when
    that is set; else its default or fallback model, a model of ``model_prices``, or one the LLM
    port has a price for (``priced``)."""
    allowed = policy.allowed_models
    if allowed is not None:
        return lambda model: model in allowed
    named = {policy.default_model, *policy.fallback_models, *policy.model_prices}
    return lambda model: model in named or priced(model)


class Experiments:
    """``ai.experiments``: a tenant's experiments, their arms, and the comparison of the arms."""

    def __init__(
        self,
        gateway: Gateway,
        ledger: UsageLedgerPort | None = None,
        *,
        prompts: PromptRegistry | None = None,
        priced: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self.gateway = gateway
        self.ledger = ledger
        self.prompts = prompts if prompts is not None else gateway.prompts
        self._priced = priced

    def check_configured(self) -> None:
        """Check the models of every experiment the configuration sets (at start-up; prompt
        versions are checked when :meth:`set` defines an experiment, or on its first call)."""
        config = self.gateway.config
        for experiment in config.experiments:
            if experiment.kind == "model":
                self._check_models(experiment, config, "*")
        for tenant_id, policy in config.tenants.items():
            for experiment in policy.experiments or ():
                if experiment.kind == "model":
                    self._check_models(experiment, config.for_tenant(tenant_id), tenant_id)

    def set(self, tenant_id: str, experiment: Experiment | dict[str, Any]) -> Experiment:
        """Define (or replace, by name) one of the tenant's experiments, its arms checked first."""
        tenant_id = validate_tenant_id(tenant_id)
        if not isinstance(experiment, Experiment):
            try:
                experiment = Experiment.model_validate(experiment)
            except ValidationError as error:
                raise ConfigurationError(f"tenant {tenant_id}: {error}", tenant_id=tenant_id) from error
        if experiment.kind == "model":
            self._check_models(experiment, self.gateway.policy(tenant_id), tenant_id)
        else:
            self._check_versions(experiment, tenant_id)
        others = tuple(e for e in self.get(tenant_id) if e.name != experiment.name)
        self._store(tenant_id, (*others, experiment))
        return experiment

    def remove(self, tenant_id: str, name: str) -> bool:
        """Stop the tenant's experiment ``name``; ``False`` when it had none of that name."""
        current = self.get(tenant_id)
        kept = tuple(e for e in current if e.name != name)
        if len(kept) == len(current):
            return False
        self._store(validate_tenant_id(tenant_id), kept)
        return True

    def get(self, tenant_id: str) -> tuple[Experiment, ...]:
        """The tenant's effective experiments."""
        return self.gateway.policy(tenant_id).experiments

    def experiment(self, tenant_id: str, name: str) -> Experiment:
        """The tenant's experiment ``name`` (:class:`NotFound` when it has none)."""
        for experiment in self.get(tenant_id):
            if experiment.name == name:
                return experiment
        raise NotFound(f"tenant {tenant_id} has no experiment {name!r}", tenant_id=tenant_id, experiment=name)

    def assign(self, tenant_id: str, name: str, *, unit: str) -> Arm:
        """The arm the experiment gives ``unit`` (a user id, or a request id)."""
        return arm_of(self.experiment(tenant_id, name), unit)

    async def compare(
        self, *, tenant_id: str, experiment: str, since: datetime, until: datetime | None = None
    ) -> ExperimentReport:
        """Both arms' calls, cost, p50/p95 latency, error rate, feedback count and mean rating
        over the ledger records created in ``[since, until)``, champion first (an arm without
        calls reports zeros)."""
        tenant_id = validate_tenant_id(tenant_id)
        defined = self.experiment(tenant_id, experiment)
        summaries = []
        if self.ledger is not None:
            await self.gateway.flush()
            summaries = await self.ledger.experiment_arms(
                tenant=tenant_id, experiment=experiment, since=since, until=until
            )
        by_arm = {s.arm: s for s in summaries}
        arms: list[ArmReport] = []
        for arm in ("champion", "challenger"):
            summary = by_arm.get(arm)
            if summary is None:
                summary = ArmSummary(arm=arm)
            arms.append(ArmReport.of(summary, defined.variant(arm)))
        return ExperimentReport(
            tenant_id=tenant_id, experiment=experiment, since=since, until=until, arms=tuple(arms)
        )

    def _store(self, tenant_id: str, experiments: tuple[Experiment, ...]) -> None:
        current = self.gateway.config.tenants.get(tenant_id)
        self.gateway.set_tenant_policy(tenant_id, policy_with(current, tenant_id, experiments=experiments))

    def _check_models(self, experiment: Experiment, policy: GatewayConfig, tenant_id: str) -> None:
        knows = known_models(policy, self._priced)
        for arm, model in (
            ("champion", experiment.champion_model),
            ("challenger", experiment.challenger_model),
        ):
            if model is None or not knows(model):
                raise ConfigurationError(
                    f"experiment {experiment.name!r} of tenant {tenant_id}: the {arm} names model "
                    f"{model!r}, which the gateway does not know (list it in allowed_models, "
                    "fallback_models or model_prices)",
                    tenant_id=tenant_id,
                    setting=f"gateway.tenants.{tenant_id}.experiments",
                    value=model,
                )

    def _check_versions(self, experiment: Experiment, tenant_id: str) -> None:
        assert experiment.template is not None
        versions = self.prompts.versions(experiment.template)
        for arm, version in (
            ("champion", experiment.champion_version),
            ("challenger", experiment.challenger_version),
        ):
            if version not in versions:
                raise ConfigurationError(
                    f"experiment {experiment.name!r} of tenant {tenant_id}: the {arm} names version "
                    f"{version} of template {experiment.template!r}, which is not registered "
                    f"(versions: {versions or 'none'})",
                    tenant_id=tenant_id,
                    setting=f"gateway.tenants.{tenant_id}.experiments",
                    value=str(version),
                )
