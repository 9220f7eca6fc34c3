"""Settings: one nested model per use-case, the flat names as aliases, every number bounded, and a
refused setting named in the SDK's ConfigurationError."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import annotated_types
import pydantic
import pytest

from motadata_ai.domain.agents.config import AgentConfig
from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.ml.config import MLConfig
from motadata_ai.domain.privacy.config import PrivacyConfig
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.values.agents import BudgetLimit
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.memory import MemoryConfig
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.usage import ModelPrice
from motadata_ai.settings import FLAT_ALIASES, Settings, env_name

SECTIONS: dict[str, type[pydantic.BaseModel]] = {
    "gateway": GatewayConfig,
    "rag": RAGConfig,
    "agents": AgentConfig,
    "memory": MemoryConfig,
    "ml": MLConfig,
    "privacy": PrivacyConfig,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No ``MOTADATA_*`` setting from the calling shell; a private data directory."""
    for name in list(os.environ):
        if name.upper().startswith("MOTADATA_") and name.upper() != "MOTADATA_ALLOW_MODEL_REQUESTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path / "data"))
    yield


# --- nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "section", "field", "expected"),
    [
        ("MOTADATA_GATEWAY__DEFAULT_MODEL", "gateway", "default_model", "openai/gpt-4o-mini"),
        ("MOTADATA_GATEWAY__MAX_RETRIES", "gateway", "max_retries", 1),
        ("MOTADATA_RAG__TOP_K", "rag", "top_k", 9),
        ("MOTADATA_AGENTS__TOOL_TIMEOUT", "agents", "tool_timeout", 4.5),
        ("MOTADATA_MEMORY__RECALL_LIMIT", "memory", "recall_limit", 2),
        ("MOTADATA_ML__LOG_SAMPLE_RATE", "ml", "log_sample_rate", 0.5),
    ],
)
def test_a_nested_variable_sets_its_section(
    monkeypatch: pytest.MonkeyPatch, variable: str, section: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, str(expected))
    assert getattr(getattr(Settings(), section), field) == expected


def test_each_section_is_its_use_case_model() -> None:
    settings = Settings()
    for section, model in SECTIONS.items():
        assert type(getattr(settings, section)) is model


def test_a_deeper_nested_variable_reaches_the_parse_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_RAG__PARSING__KEY_FIELD", "number")
    assert Settings().rag.parsing.key_field == "number"


# --- the flat aliases ---------------------------------------------------------------------------

FLAT_SAMPLES: dict[str, str] = {
    "llm_model": "openai/gpt-4o-mini",
    "embedding_model": "openai/text-embedding-3-small",
    "fallback_models": '["openai/gpt-4o", "anthropic/claude-3-haiku"]',
    "request_timeout": "12.5",
    "enable_caching": "false",
    "cache_ttl": "120",
    "semantic_cache": "true",
    "requests_per_minute": "7",
    "burst_size": "3",
    "tokens_per_minute": "9000",
    "limits_failure_policy": "deny",
    "max_retries": "1",
    "circuit_failure_threshold": "2",
    "circuit_recovery_timeout": "4",
    "validation_level": "strict",
    "request_deduplication": "false",
    "daily_budget_usd": "5",
    "monthly_budget_usd": "50",
    "chunk_size": "400",
    "chunk_overlap": "40",
    "top_k": "3",
    "similarity_threshold": "0.2",
    "enable_query_rewriting": "false",
    "enable_reranking": "true",
    "max_document_bytes": "1024",
    "parsing": '{"key_field": "number"}',
    "max_iterations": "4",
    "agent_timeout": "30",
    "max_episodic": "7",
    "max_semantic": "8",
    "max_age_days": "9",
    "max_memory_mb": "64",
    "enable_gpu": "true",
}


def test_every_flat_alias_has_a_sample() -> None:
    assert sorted(FLAT_SAMPLES) == sorted(FLAT_ALIASES)


@pytest.mark.parametrize("flat", sorted(FLAT_ALIASES))
def test_a_flat_alias_sets_what_its_nested_name_sets(monkeypatch: pytest.MonkeyPatch, flat: str) -> None:
    section, field = FLAT_ALIASES[flat]
    default = getattr(getattr(Settings(), section), field)
    monkeypatch.setenv(env_name(flat), FLAT_SAMPLES[flat])
    through_alias = getattr(getattr(Settings(), section), field)
    monkeypatch.delenv(env_name(flat))
    monkeypatch.setenv(env_name(section, field), FLAT_SAMPLES[flat])
    through_nested = getattr(getattr(Settings(), section), field)
    assert through_alias == through_nested
    assert through_alias != default


def test_the_parsing_alias_takes_nested_variables_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_PARSING__KEY_FIELD", "number")
    monkeypatch.setenv("MOTADATA_PARSING__TEXT_FIELDS", '["short_description", "close_notes"]')
    parsing = Settings().rag.parsing
    assert parsing.key_field == "number"
    assert parsing.text_fields == ("short_description", "close_notes")


def test_the_nested_name_wins_over_its_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_TOP_K", "3")
    monkeypatch.setenv("MOTADATA_RAG__TOP_K", "8")
    assert Settings().rag.top_k == 8


def test_flat_keywords_fill_their_sections() -> None:
    settings = Settings(top_k=3, agent_timeout=15, max_memory_mb=64, llm_model="openai/gpt-4o-mini")
    assert settings.rag.top_k == 3
    assert settings.agents.timeout == 15
    assert settings.ml.max_memory_mb == 64
    assert settings.gateway.default_model == "openai/gpt-4o-mini"


def test_flat_keywords_join_a_section_given_as_a_model() -> None:
    settings = Settings(rag=RAGConfig(top_k=4), chunk_size=500, chunk_overlap=50)
    assert (settings.rag.top_k, settings.rag.chunk_size, settings.rag.chunk_overlap) == (4, 500, 50)


def test_keywords_outrank_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_RAG__TOP_K", "8")
    monkeypatch.setenv("MOTADATA_RAG__CHUNK_SIZE", "600")
    settings = Settings(top_k=2)
    assert (settings.rag.top_k, settings.rag.chunk_size) == (2, 600)


def test_a_setting_given_both_ways_as_keywords_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(top_k=3, rag={"top_k": 4})
    assert caught.value.setting == "rag.top_k"


# --- refused values -----------------------------------------------------------------------------


def test_a_non_number_through_a_flat_alias_names_the_setting_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTADATA_TOP_K", "abc")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    error = caught.value
    assert (error.setting, error.env, error.value) == ("rag.top_k", "MOTADATA_TOP_K", "'abc'")
    assert "rag.top_k" in str(error) and "MOTADATA_TOP_K='abc'" in str(error)


def test_a_misspelt_profile_names_the_setting_and_suggests_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "servics")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    error = caught.value
    assert (error.setting, error.env, error.value) == ("profile", "MOTADATA_PROFILE", "'servics'")
    assert "did you mean 'services'?" in str(error)


def test_a_bad_nested_variable_names_its_nested_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_GATEWAY__MAX_RETRIES", "99")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert (caught.value.setting, caught.value.env) == (
        "gateway.max_retries",
        "MOTADATA_GATEWAY__MAX_RETRIES",
    )


def test_an_unknown_field_of_a_section_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_RAG__TOPK", "3")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert (caught.value.setting, caught.value.env) == ("rag.topk", "MOTADATA_RAG__TOPK")


def test_a_section_check_across_fields_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_CHUNK_OVERLAP", "5000")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert (caught.value.setting, caught.value.env) == ("rag.chunk_overlap", "MOTADATA_CHUNK_OVERLAP")


def test_a_pool_minimum_above_its_maximum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_POSTGRES_POOL_MIN", "20")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert (caught.value.setting, caught.value.env) == ("postgres_pool_min", "MOTADATA_POSTGRES_POOL_MIN")


def test_an_agent_reserve_as_large_as_its_window_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(agents={"context_window": 1024, "reserve_output_tokens": 1024})
    assert caught.value.setting == "agents.reserve_output_tokens"


def test_a_variable_that_is_not_json_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_GATEWAY__FALLBACK_MODELS", "openai/gpt-4o")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.env == "MOTADATA_GATEWAY__FALLBACK_MODELS"


def test_a_secret_is_never_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(postgres_dsn=["postgresql://app:hunter2@db/app"])
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value.fields)


# --- every number bounded -----------------------------------------------------------------------

BOUNDED_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "": Settings,
    **{f"{section}.": model for section, model in SECTIONS.items()},
    "rag.parsing.": ParseOptions,
    "agents.budget.": BudgetLimit,
    "gateway.tenants.acme.": TenantPolicy,
    "gateway.model_prices.m.": ModelPrice,
}


def _numeric(annotation: Any) -> type | None:
    kinds = [a for a in (get_args(annotation) or (annotation,)) if a is not type(None)]
    return next((k for k in kinds if k in (int, float)), None)


def _bounds(field: pydantic.fields.FieldInfo) -> tuple[Any, Any, Any, Any]:
    ge = gt = le = lt = None
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            ge = item.ge
        elif isinstance(item, annotated_types.Gt):
            gt = item.gt
        elif isinstance(item, annotated_types.Le):
            le = item.le
        elif isinstance(item, annotated_types.Lt):
            lt = item.lt
    return ge, gt, le, lt


NUMBERS = [
    (prefix + name, kind, field)
    for prefix, model in BOUNDED_MODELS.items()
    for name, field in model.model_fields.items()
    if (kind := _numeric(field.annotation)) is not None
]


def _violations() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for path, kind, field in NUMBERS:
        ge, gt, le, lt = _bounds(field)
        step = 1 if kind is int else 0.5
        if ge is not None:
            cases.append((path, ge - step))
        if gt is not None:
            cases.append((path, gt))
        if le is not None:
            cases.append((path, le + step))
        if lt is not None:
            cases.append((path, lt))
    return cases


def test_every_number_has_a_lower_and_an_upper_bound() -> None:
    assert len(NUMBERS) > 60
    unbounded = []
    for path, _, field in NUMBERS:
        ge, gt, le, lt = _bounds(field)
        if (ge is None and gt is None) or (le is None and lt is None):
            unbounded.append(path)
    assert unbounded == []


def _nested(path: str, value: Any) -> dict[str, Any]:
    parts = path.split(".")
    tree: Any = value
    for part in reversed(parts[1:]):
        tree = {part: tree}
    return {parts[0]: tree}


@pytest.mark.parametrize(("path", "value"), _violations(), ids=lambda v: str(v))
def test_each_bound_is_refused_with_a_typed_error_naming_the_setting(path: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(**_nested(path, value))
    assert caught.value.setting == path
    assert path in str(caught.value)


# --- one default, in one place ------------------------------------------------------------------


def test_each_section_default_is_its_model_default() -> None:
    settings = Settings()
    for section, model in SECTIONS.items():
        assert getattr(settings, section) == model()


def test_no_flat_alias_is_a_field_of_its_own() -> None:
    assert set(FLAT_ALIASES) & set(Settings.model_fields) == set()
    for flat, (section, field) in FLAT_ALIASES.items():
        assert field in SECTIONS[section].model_fields, flat


def test_the_configuration_page_lists_every_variable_and_alias() -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    missing = [env_name(flat) for flat in FLAT_ALIASES if f"`{env_name(flat)}`" not in page]
    for section, model in SECTIONS.items():
        missing += [
            env_name(section, f) for f in model.model_fields if f"`{env_name(section, f)}`" not in page
        ]
    missing += [
        env_name(name)
        for name in Settings.model_fields
        if name not in SECTIONS
        and name != "otel_exporter_otlp_endpoint"
        and f"`{env_name(name)}`" not in page
    ]
    assert missing == []


# --- log settings ---------------------------------------------------------------------------------


def test_the_log_settings_are_fields_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Settings()
    assert (default.log_format, default.log_level, default.log_sensitive) == ("text", "WARNING", False)
    monkeypatch.setenv("MOTADATA_LOG_FORMAT", "JSON")
    monkeypatch.setenv("MOTADATA_LOG_LEVEL", "info")
    monkeypatch.setenv("MOTADATA_LOG_SENSITIVE", "true")
    settings = Settings()
    assert (settings.log_format, settings.log_level, settings.log_sensitive) == ("json", "INFO", True)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MOTADATA_LOG_FORMAT", "yaml"), ("MOTADATA_LOG_LEVEL", "LOUD"), ("MOTADATA_LOG_SENSITIVE", "maybe")],
)
def test_a_bad_log_setting_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert caught.value.env == variable
    assert caught.value.setting == variable.removeprefix("MOTADATA_").lower()
