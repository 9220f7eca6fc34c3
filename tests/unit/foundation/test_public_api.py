"""The flat public API: everything a user touches is importable from ``motadata_ai``, lazily;
OpenAI-style message dicts in ``ChatRequest``; a pydantic model as the response schema gives a
parsed object; ``DatasetSchema.of(..., ignore_extra_columns=True)``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

import motadata_ai
from motadata_ai import errors


def test_every_public_name_resolves() -> None:
    for name in motadata_ai.__all__:
        assert getattr(motadata_ai, name) is not None, name
    assert set(errors.__all__) <= set(dir(motadata_ai))
    for name in errors.__all__:
        assert getattr(motadata_ai, name) is getattr(errors, name), name


def test_the_result_types_and_ml_inputs_are_the_sdks_own() -> None:
    from motadata_ai.adapters.filesystem.datasets import dataset_from_csv
    from motadata_ai.domain.agents.tools import ToolContext
    from motadata_ai.domain.routing.unified import UnifiedResponse
    from motadata_ai.domain.values.agents import AgentTask
    from motadata_ai.domain.values.documents import RAGResponse
    from motadata_ai.domain.values.llm import ChatResponse
    from motadata_ai.domain.values.ml import Dataset, DatasetSchema, Prediction

    expected = {
        "ChatResponse": ChatResponse,
        "RAGResponse": RAGResponse,
        "AgentTask": AgentTask,
        "UnifiedResponse": UnifiedResponse,
        "Prediction": Prediction,
        "Dataset": Dataset,
        "DatasetSchema": DatasetSchema,
        "dataset_from_csv": dataset_from_csv,
        "ToolContext": ToolContext,
    }
    for name, value in expected.items():
        assert getattr(motadata_ai, name) is value, name
        assert name in motadata_ai.__all__
    from motadata_ai import ml

    assert ml.Dataset is Dataset and ml.dataset_from_csv is dataset_from_csv and ml.Prediction is Prediction


def test_import_stays_light() -> None:
    code = (
        "import sys, motadata_ai, json; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'litellm', 'fastapi', 'numpy', 'asyncpg', 'torch', 'sklearn'} "
        "or m in {'motadata_ai.functions', 'motadata_ai.sync', 'motadata_ai.container'})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_import_loads_no_use_case_until_a_name_is_used() -> None:
    code = (
        "import sys, json, motadata_ai; "
        "before = {m for m in sys.modules if m.startswith('motadata_ai.')}; "
        "motadata_ai.connect; motadata_ai.Settings; motadata_ai.ValidationError; "
        "print(json.dumps([sorted(before), 'motadata_ai.api' in sys.modules, "
        "'motadata_ai.settings' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, api_loaded, settings_loaded = json.loads(result.stdout)
    assert before == [] and api_loaded and settings_loaded


def test_chat_request_takes_openai_style_message_dicts() -> None:
    from motadata_ai import ChatRequest, Message
    from motadata_ai.domain.values.llm import ToolCall

    request = ChatRequest(
        model="local/extractive",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": {"q": "x"}}}
                ],
                "refusal": None,
            },
            {"role": "tool", "tool_call_id": "c1", "content": "found"},
        ],
    )
    assert request.messages[1] == Message(role="user", content="Hi\nthere")
    assert request.messages[2].tool_calls == (ToolCall(id="c1", name="lookup", arguments='{"q": "x"}'),)
    assert request.messages[3].tool_call_id == "c1"


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"role": "usr", "content": "hi"}, "messages.0.role"),
        ({"role": "user", "content": "hi", "bogus": 1}, "unknown message keys ['bogus']"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, "not 'image_url'"),
        ({"role": "user", "content": 42}, "messages.0.content"),
    ],
)
def test_a_bad_message_dict_is_a_validation_error_naming_it(message: dict[str, object], problem: str) -> None:
    from motadata_ai import ChatRequest, ValidationError

    with pytest.raises(ValidationError) as caught:
        ChatRequest(model="m", messages=[message])
    assert problem in str(caught.value)


def test_a_pydantic_response_schema_parses_the_answer() -> None:
    from motadata_ai import ChatResponse, Message, ValidationError

    class Ticket(pydantic.BaseModel):
        priority: int
        summary: str

    response = ChatResponse(
        id="r1",
        model="m",
        message=Message(role="assistant", content='{"priority": 2, "summary": "VPN down"}'),
    )
    assert response.parse(Ticket) == Ticket(priority=2, summary="VPN down")
    wrong = ChatResponse(
        id="r2", model="m", message=Message(role="assistant", content='{"priority": "high"}')
    )
    with pytest.raises(ValidationError):
        wrong.parse(Ticket)


def test_dataset_schema_of_takes_the_schema_options(tmp_path: Path) -> None:
    from motadata_ai import DatasetSchema, dataset_from_csv

    schema = DatasetSchema.of(
        "escalated", ignore_extra_columns=True, max_missing_fraction=0.3, hours="numeric", team="categorical"
    )
    assert schema.ignore_extra_columns is True and schema.max_missing_fraction == 0.3
    assert schema.feature_names == ("hours", "team")
    csv = tmp_path / "t.csv"
    csv.write_text("hours,team,escalated,notes\n" + "".join(f"{i},a{i % 2},{i % 2},x\n" for i in range(10)))
    records = dataset_from_csv(csv, schema).records
    assert len(records) == 10 and "notes" not in records[0]  # the extra column is dropped
