"""A/B experiments of a tenant: a champion and a challenger on live traffic.

An :class:`Experiment` compares two models (``champion_model`` / ``challenger_model``: the
tenant's calls to the champion model go to the challenger for ``share`` of the traffic) or two
versions of one prompt template (``template``, ``champion_version`` / ``challenger_version``:
calls that name the template with ``prompt=PromptRef(...)`` get the arm's version). The split is
deterministic: a hash of the experiment's name and the user id (``split_by="user"``, each user
always sees the same arm; calls without a user fall back to the request) or the request id
(``split_by="request"``). :func:`arm_of` decides; the gateway's experiment step applies it and
the call's usage record carries ``experiment`` and ``arm``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.usage import Arm, ArmSummary

__all__ = [
    "ArmReport",
    "Experiment",
    "ExperimentReport",
    "PromptRef",
    "arm_of",
    "check_unique_names",
]

SplitBy = Literal["user", "request"]


class Experiment(ValueModel):
    """A champion and a challenger (two models, or two versions of a template) and the share
    of traffic the challenger gets (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    share: float = Field(0.5, ge=0, le=1, allow_inf_nan=False, description="The challenger's share")
    split_by: SplitBy = "user"
    champion_model: str | None = Field(None, min_length=1, max_length=256)
    challenger_model: str | None = Field(None, min_length=1, max_length=256)
    template: str | None = Field(None, min_length=1, max_length=256)
    champion_version: int | None = Field(None, ge=1)
    challenger_version: int | None = Field(None, ge=1)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> Experiment:
        models = (self.champion_model, self.challenger_model)
        prompts = (self.template, self.champion_version, self.challenger_version)
        if all(v is not None for v in models) and all(v is None for v in prompts):
            if self.champion_model == self.challenger_model:
                raise ValueError("the champion and the challenger must be different models")
            return self
        if all(v is not None for v in prompts) and all(v is None for v in models):
            if self.champion_version == self.challenger_version:
                raise ValueError("the champion and the challenger must be different versions")
            return self
        raise ValueError(
            "an experiment compares either two models (champion_model, challenger_model) or two "
            "versions of a template (template, champion_version, challenger_version)"
        )

    @property
    def kind(self) -> Literal["model", "prompt"]:
        """``model`` or ``prompt``."""
        return "model" if self.champion_model is not None else "prompt"

    def variant(self, arm: Arm) -> str:
        """What ``arm`` runs: its model, or ``template@version``."""
        if self.kind == "model":
            return str(self.champion_model if arm == "champion" else self.challenger_model)
        version = self.champion_version if arm == "champion" else self.challenger_version
        return f"{self.template}@{version}"


def check_unique_names(experiments: tuple[Experiment, ...]) -> tuple[Experiment, ...]:
    """``experiments`` when no two share a name, else ``ValueError``."""
    names = [e.name for e in experiments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"experiment names must be unique: {', '.join(twice)}")
    return experiments


def arm_of(experiment: Experiment, unit: str) -> Arm:
    """The arm of ``unit`` (a user or request id): the challenger when the hash of the
    experiment's name and ``unit``, read as a fraction of 2**64, is below ``share``."""
    digest = hashlib.sha256(f"{experiment.name}\x00{unit}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "challenger" if fraction < experiment.share else "champion"


@dataclass(frozen=True, slots=True)
class PromptRef:
    """A call's prompt named by template (``prompt=PromptRef("triage", {"ticket": ...})``): the
    gateway renders ``version`` (default: the latest, or the experiment's arm) as the system
    message."""

    template: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    version: int | None = None


class ArmReport(BaseModel):
    """One arm of a comparison: what it runs and its figures."""

    model_config = ConfigDict(frozen=True)

    arm: Arm
    variant: str
    calls: int
    cost_usd: float
    latency_p50_ms: float
    latency_p95_ms: float
    errors: int
    error_rate: float
    feedback_count: int
    mean_rating: float | None

    @classmethod
    def of(cls, summary: ArmSummary, variant: str) -> ArmReport:
        """The report of one arm's ledger summary."""
        return cls(
            arm=summary.arm,
            variant=variant,
            calls=summary.calls,
            cost_usd=summary.cost_usd,
            latency_p50_ms=summary.latency_p50_ms,
            latency_p95_ms=summary.latency_p95_ms,
            errors=summary.errors,
            error_rate=summary.error_rate,
            feedback_count=summary.feedback_count,
            mean_rating=summary.mean_rating,
        )


class ExperimentReport(BaseModel):
    """Both arms of an experiment measured from the ledger, champion first."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    experiment: str
    since: datetime
    until: datetime | None = None
    arms: tuple[ArmReport, ...]

    def arm(self, arm: Arm) -> ArmReport:
        """The report of ``arm``."""
        return next(a for a in self.arms if a.arm == arm)
