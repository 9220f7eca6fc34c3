"""Plugins found through their entry points: the example package, the allow-list, bad plugins.

The example plugin (``examples/motadata-example-plugin``) is pip-installed into the running
environment once per module; a broken plugin is a temporary distribution on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.plugins import PluginManager
from motadata_ai.ports.llm import UnknownModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "motadata-example-plugin"


@pytest.fixture(scope="module")
def example_installed() -> Path:
    """``pip install -e`` the example plugin (its entry point lands in this environment)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return EXAMPLE


@pytest.fixture
def example(example_installed: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's code importable in this (already running) interpreter."""
    monkeypatch.syspath_prepend(str(example_installed))
    return example_installed


def broken_distribution(root: Path, *, name: str, module: str, body: str) -> None:
    """A minimal installed distribution with a ``motadata_ai`` entry point ``name = module``."""
    info = root / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[motadata_ai]\n{name} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(body))


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    broken_distribution(
        tmp_path,
        name="broken",
        module="motadata_broken_plugin",
        body="raise ImportError(\"No module named 'frobnicate'\")\n",
    )
    broken_distribution(
        tmp_path,
        name="misspelt",
        module="motadata_misspelt_plugin",
        body="""
        from motadata_ai.plugins import hookimpl

        @hookimpl
        def register_toolz(register):
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in ("motadata_broken_plugin", "motadata_misspelt_plugin"):
        sys.modules.pop(module, None)


def test_example_plugin_is_discovered_through_its_entry_point(example: Path) -> None:
    manager = PluginManager(allow=["builtin", "example"]).load()
    entry_point = manager.installed()["example"]
    assert entry_point.value == "motadata_example_plugin"
    assert entry_point.dist is not None and entry_point.dist.name == "motadata-example-plugin"
    assert manager.plugins == ["builtin", "example"]
    lookup_asset = manager.tool("lookup_asset")
    assert lookup_asset("lap-0042")["owner"] == "dana@example.com"
    assert lookup_asset("nope")["error"] == "unknown asset tag"
    assert manager.llm_providers()["echo"].plugin == "example"
    assert manager.llm_providers()["local"].plugin == "builtin"


async def test_example_provider_answers_through_litellm_and_is_removed_after(example: Path) -> None:
    manager = PluginManager(allow=["example"]).load()
    assert manager.install_providers() == ["echo"]
    llm = LiteLLMChat()
    request = ChatRequest(model="echo/any", messages=(Message(role="user", content="ping 42"),))
    try:
        response = await llm.complete(request)
        assert response.text == "echo: ping 42"
        assert response.provider == "echo"
    finally:
        manager.uninstall_providers()
    with pytest.raises(UnknownModel):
        await llm.complete(request)


def test_allow_list_loads_only_the_named_plugins(example: Path) -> None:
    only_builtin = PluginManager(allow=["builtin"]).load()
    assert only_builtin.plugins == ["builtin"]
    assert "lookup_asset" not in only_builtin.tools()
    only_example = PluginManager(allow=["example"]).load()
    assert only_example.plugins == ["example"]
    assert list(only_example.llm_providers()) == ["echo"]


def test_a_fresh_interpreter_loads_every_installed_plugin(example_installed: Path) -> None:
    code = (
        "import json; from motadata_ai.plugins import PluginManager; m = PluginManager().load(); "
        "print(json.dumps({'plugins': m.plugins, 'tools': sorted(m.tools())}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"builtin", "example"} <= set(found["plugins"])
    assert "lookup_asset" in found["tools"]


def test_unknown_plugin_names_what_is_installed(example: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PluginManager(allow=["builtin", "not-a-plugin"]).load()
    message = str(caught.value)
    assert "'not-a-plugin' is not installed" in message
    assert "builtin" in message and "example" in message
    assert {"builtin", "example"} <= set(caught.value.installed)


def test_broken_plugin_names_itself_and_the_cause(broken: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PluginManager(allow=["builtin", "broken"]).load()
    message = str(caught.value)
    assert "plugin 'broken' (motadata_broken_plugin) failed to load" in message
    assert "frobnicate" in message
    assert "builtin" in message
    assert caught.value.plugin == "broken"
    assert isinstance(caught.value.__cause__, ImportError)


def test_plugin_with_a_misspelt_hook_names_itself(broken: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PluginManager(allow=["misspelt"]).load()
    assert "'misspelt'" in str(caught.value)
    assert "register_toolz" in str(caught.value)


async def test_an_agent_calls_a_tool_from_a_plugin_found_through_its_entry_point(
    example: Path, tmp_path: Path
) -> None:
    from dependency_injector import providers

    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
    from motadata_ai.api import connect
    from motadata_ai.container import Container
    from motadata_ai.domain.values.llm import ToolCall
    from motadata_ai.settings import Settings

    def model(request: ChatRequest) -> Message | str:
        results = [m.content or "" for m in request.messages if m.role == "tool"]
        if not results:
            assert {tool.name for tool in request.tools} >= {"lookup_asset", "knowledge_search"}
            call = ToolCall(id="c1", name="lookup_asset", arguments='{"asset_tag": "lap-0042"}')
            return Message(role="assistant", tool_calls=(call,))
        return f"The owner is {json.loads(results[-1])['owner']}."

    settings = Settings(profile="memory", data_dir=tmp_path, plugins_allow=["builtin", "example"])
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(model)))
    container.embeddings.override(providers.Object(HashEmbeddings()))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    async with connect(container=container) as ai:
        task = await ai.agent("acme").execute_task("Who owns laptop lap-0042?")
    assert task.status == "completed", task
    assert [call.name for call in task.tool_calls] == ["lookup_asset"]
    # The tool's answer reached the model; the gateway's output guardrail (medium) redacts the email.
    assert task.answer == "The owner is [REDACTED_EMAIL]."
