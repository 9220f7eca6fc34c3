"""Every public coroutine of the SDK's facades, called with an argument of the wrong kind, raises
an SDK error (or succeeds where the value happens to be valid), never Python's own ``TypeError``,
``AttributeError`` or pydantic's error from whatever line first used it.

The calls are found by inspection, so a new public method or parameter is probed without being
listed here; a required parameter with no valid value in ``VALID`` fails the test, naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, ChatRequest, Message
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.functions import create_database_connection, create_gateway
from motadata_ai.settings import Settings

WRONG_KINDS: tuple[Any, ...] = (
    None, 5, -1, 3.5, float("nan"), True, 10**30, "", "\x00", b"bytes", ["a", None], {"k": object()},
    object(),
)  # fmt: skip

REQUEST = ChatRequest(model="local/extractive", messages=(Message(role="user", content="hi"),))
SCHEMA = DatasetSchema.of("made_sla", category="categorical", reassignments="numeric")
ROWS = [
    {"category": ["network", "software", "hardware"][i % 3], "reassignments": i % 5,
     "made_sla": "yes" if i % 5 < 3 else "no"}
    for i in range(90)
]  # fmt: skip
FEATURES = {"category": "network", "reassignments": 1}
VALID: dict[str, Any] = {
    "alias": "champion", "approve": True, "content": "prefers e-mail", "conversation_id": "c1",
    "dataset": Dataset.from_records(ROWS, SCHEMA), "document_id": "d1", "features": FEATURES,
    "granted": True, "ids": ["d1"], "message": "hi", "model_name": "sla", "name": "sla", "operation": "x",
    "origin": "passage", "purpose": "training", "query": "password", "question": "password", "rating": 5,
    "record": FEATURES, "records": [FEATURES], "request": REQUEST, "requests": [REQUEST],
    "response_id": "r1", "run_id": "r1", "source": [Document(id="d2", text="VPN help")],
    "task": "reset my password", "task_id": "t1", "tenant_id": "acme", "text": "hello", "texts": ["hello"],
    "user_id": "u1", "version": 1, "embedding": [0.1] * 384,
}  # fmt: skip
NOT_PROBED = {"close", "aclose", "set_tenant_policy"}
"""``close`` and ``aclose`` end what the other calls need; ``set_tenant_policy`` takes a policy
model whose fields its own tests cover."""
ALSO_VALID = {"generate_async": {"prompt": "hi"}}
"""Optional arguments a call needs one of (``generate_async``: a prompt or messages)."""


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AI]:
    container = Container(settings=Settings(profile="memory", data_dir=tmp_path))
    llm = FunctionLLM(lambda _: "ok", capabilities=EXTRACTIVE_CAPABILITIES)
    container.llm.override(providers.Object(llm))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=384)))
    async with connect(container=container, warm_up=False) as ai:
        await ai.rag("acme").ingest(Document(id="d1", text="Reset your password from the portal."))
        ml = ai.ml("acme")
        run = await ml.train(VALID["dataset"], model_name="sla")
        assert run.version is not None
        await ml.promote("sla", run.version)
        yield ai


def public_coroutines(target: object) -> list[tuple[str, Any]]:
    return [
        (name, method)
        for name, method in inspect.getmembers(target, predicate=inspect.ismethod)
        if not name.startswith("_") and name not in NOT_PROBED and inspect.iscoroutinefunction(method)
    ]


async def test_public_calls_refuse_arguments_of_the_wrong_kind_with_sdk_errors(
    app: AI, tmp_path: Path
) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path / "functions")
    functions_gateway = create_gateway(
        tenant_id="acme", settings=settings, embeddings=HashEmbeddings(dimensions=384),
        llm=FunctionLLM(lambda _: "ok", capabilities=EXTRACTIVE_CAPABILITIES),
    )  # fmt: skip
    database = create_database_connection(settings=settings)
    facades = {
        "ai": app, "gateway": app.gateway, "rag": app.rag("acme"), "ml": app.ml("acme"),
        "agent": app.agent("acme"), "create_gateway()": functions_gateway,
        "create_database_connection()": database,
    }  # fmt: skip
    escaped: list[str] = []
    probed = 0
    for facade, target in facades.items():
        for name, method in public_coroutines(target):
            parameters = [
                p for p in inspect.signature(method).parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]  # fmt: skip
            missing = [p.name for p in parameters if p.default is p.empty and p.name not in VALID]
            assert not missing, f"{facade}.{name}: no valid value for {missing}: add one to VALID"
            valid = {p.name: VALID[p.name] for p in parameters if p.default is p.empty}
            valid.update(ALSO_VALID.get(name, {}))
            for parameter in parameters:
                for wrong in WRONG_KINDS:
                    probed += 1
                    try:
                        await method(**{**valid, parameter.name: wrong})
                    except MotadataError:
                        pass
                    except Exception as error:  # what this test exists to find
                        escaped.append(f"{facade}.{name}({parameter.name}={wrong!r:.30}): {error!r:.120}")
    await functions_gateway.aclose()
    await database.aclose()
    assert probed > 1_000  # the facades' calls were found
    assert escaped == [], "\n".join(escaped)
