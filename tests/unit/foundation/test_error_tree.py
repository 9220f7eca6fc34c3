"""The error tree has one root per kind: every SDK error is a developer mistake (``UsageError``)
or a runtime failure (``ServiceError``), never both, and every one is exported and drawn."""

from __future__ import annotations

import importlib
import pkgutil
import typing

import pytest

import motadata_ai
from motadata_ai import errors
from motadata_ai.domain.values.errors import MotadataError, ServiceError, UsageError


def _sdk_error_classes() -> list[type[MotadataError]]:
    """Import every module of the package, then collect every subclass of the SDK's base error."""
    for module in pkgutil.walk_packages(motadata_ai.__path__, "motadata_ai."):
        if module.name.rsplit(".", 1)[-1] != "__main__":
            importlib.import_module(module.name)
    found: dict[type[MotadataError], None] = {}
    pending: list[type[MotadataError]] = [MotadataError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("motadata_ai.") and sub not in found:
                found[sub] = None
                pending.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


CLASSES = _sdk_error_classes()
IDS = [f"{c.__module__}.{c.__qualname__}" for c in CLASSES]


def test_the_walk_finds_the_whole_tree() -> None:
    assert len(CLASSES) > 60  # every port, domain and adapter module was imported
    assert {c.__name__ for c in CLASSES} >= {"ProviderAuthError", "DimensionMismatch", "TaskAlreadyResumed"}


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_every_error_has_exactly_one_root(cls: type[MotadataError]) -> None:
    roots = [root.__name__ for root in (UsageError, ServiceError) if issubclass(cls, root)]
    assert len(roots) == 1, f"{cls.__qualname__} is under {roots or 'neither root'}"


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_every_error_is_exported_and_drawn(cls: type[MotadataError]) -> None:
    name = cls.__name__
    assert name in errors.__all__ and getattr(errors, name) is cls
    assert getattr(motadata_ai, name) is cls
    assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in motadata_ai.errors"


def test_no_two_errors_share_a_name() -> None:
    names = [c.__name__ for c in CLASSES]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_a_provider_auth_error_is_a_runtime_failure_not_a_validation_error() -> None:
    assert issubclass(errors.ProviderAuthError, errors.ServiceError)
    assert not issubclass(errors.ProviderAuthError, errors.ValidationError)
    assert not issubclass(errors.ProviderBadRequest, errors.ValidationError)


def test_a_dimension_mismatch_is_a_developer_mistake_only() -> None:
    assert issubclass(errors.DimensionMismatch, errors.ValidationError)
    assert not issubclass(errors.DimensionMismatch, errors.ServiceError)


def test_one_budget_error_catches_the_gateways_and_the_agents() -> None:
    assert errors.BudgetExceeded is motadata_ai.BudgetExceeded
    assert issubclass(errors.TaskBudgetExceeded, motadata_ai.BudgetExceeded)
    assert issubclass(errors.TaskBudgetExceeded, errors.AgentError)
    with pytest.raises(motadata_ai.BudgetExceeded):
        raise errors.TaskBudgetExceeded("task budget spent", spent_tokens=10)


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (errors.RateLimited, "retry_after"),
        (errors.CircuitOpen, "retry_after"),
        (errors.ProviderRateLimited, "retry_after"),
        (errors.ProviderError, "status_code"),
        (errors.StoreUnavailable, "address"),
        (errors.ValidationError, "field"),
        (errors.BudgetExceeded, "spent_usd"),
        (errors.GuardrailViolation, "reasons"),
        (errors.RetriesExhausted, "attempts"),
    ],
)
def test_structured_fields_are_declared_on_the_classes(cls: type[MotadataError], field: str) -> None:
    assert field in typing.get_type_hints(cls)
    assert getattr(cls("no fields given"), field) is None
    assert getattr(cls("given", **{field: 7}), field) == 7
