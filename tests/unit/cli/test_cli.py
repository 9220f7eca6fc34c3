"""The command line's edges: --version, typo suggestions, global options anywhere, help on every
option, settings errors in one line, unknown variables warned about, and distinct exit codes.

Commands that run use the ``memory`` profile (everything in process), so no server is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from motadata_ai import __version__
from motadata_ai.cli import COMMANDS, cli, main, parse
from motadata_ai.cli._env import OTHER_VARIABLES, known_variables, unknown_variables
from motadata_ai.cli._errors import EXIT_CONFIGURATION, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from motadata_ai.cli._group import arguments
from motadata_ai.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No MOTADATA_* variable of the caller's shell leaks in; the memory profile by default."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("MOTADATA_") and name != "MOTADATA_ALLOW_MODEL_REQUESTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path_factory.mktemp("cli-data")))


def outcome(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-V"):
        code, out, _ = outcome([flag], capsys)
        assert code == EXIT_OK and out.strip() == f"motadata-ai {__version__}"


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["ingset", "kb"], "Did you mean 'ingest'?"),
        (["ml", "promte", "sla", "1"], "Did you mean 'promote'?"),
        (["agent", "rnu", "task"], "Did you mean 'run'?"),
        (["ask", "q", "--top_k", "3"], "--top-k"),
    ],
    ids=["command", "ml command", "agent command", "option"],
)
def test_a_typo_gets_the_closest_name_and_the_usage_exit_code(
    argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = outcome(argv, capsys)
    assert code == EXIT_USAGE
    assert suggestion in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "acme", "--json", "-v", "ml", "list"],
        ["ml", "--tenant", "acme", "--json", "list", "-v"],
        ["ml", "list", "--tenant", "acme", "--json", "-v"],
        ["-v", "ml", "--json", "list", "--tenant", "acme"],
    ],
)
def test_global_options_are_accepted_anywhere_on_the_line(argv: list[str]) -> None:
    command, ctx = parse(argv)
    args = arguments(ctx)
    assert command.name == "list"
    assert (args.tenant, args.json, args.verbose) == ("acme", True, True)


def test_the_tenant_defaults_to_default_and_reads_motadata_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert arguments(parse(["ask", "q"])[1]).tenant == "default"
    monkeypatch.setenv("MOTADATA_TENANT", "acme")
    assert arguments(parse(["ask", "q"])[1]).tenant == "acme"
    assert arguments(parse(["ask", "q", "--tenant", "other"])[1]).tenant == "other"


def _commands(group: click.Group, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{ctx.command_path} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, info_name=name, parent=ctx))


def test_every_command_and_option_has_help_and_the_root_lists_examples_and_variables() -> None:
    root = click.Context(cli, info_name="motadata-ai")
    seen = list(_commands(cli, root))
    assert {path.split()[1] for path, _ in seen} == set(COMMANDS)
    for path, command in seen:
        assert (command.help or "").strip(), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert (param.help or "").strip(), f"{path} {param.opts}"
    root_help = cli.get_help(root)
    assert "Examples:" in root_help and "MOTADATA_PROFILE" in root_help and "Exit codes" in root_help


def test_registering_a_command_module_is_one_entry() -> None:
    for name, target in COMMANDS.items():
        module, _, attribute = target.partition(":")
        assert module.startswith("motadata_ai.cli.") and attribute, name
        root = click.Context(cli, info_name="motadata-ai")
        assert isinstance(cli.get_command(root, name), click.Command)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MOTADATA_PROFILE", "servics", "MOTADATA_PROFILE='servics'"),
        ("MOTADATA_TOP_K", "abc", "MOTADATA_TOP_K='abc'"),
        ("MOTADATA_FALLBACK_MODELS", "[broken", "MOTADATA_FALLBACK_MODELS='[broken'"),
        ("MOTADATA_PARSING__TIMEOUT_SECONDS", "soon", "MOTADATA_PARSING__TIMEOUT_SECONDS='soon'"),
        ("MOTADATA_LOG_FORMAT", "yaml", "MOTADATA_LOG_FORMAT='yaml'"),
        ("MOTADATA_LOG_LEVEL", "LOUD", "MOTADATA_LOG_LEVEL='LOUD'"),
    ],
)
def test_a_bad_setting_is_one_line_with_the_configuration_exit_code(
    variable: str,
    value: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    code, out, err = outcome(["ml", "list"], capsys)
    assert code == EXIT_CONFIGURATION
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: invalid setting ")
    assert expected in lines[0]
    assert "Traceback" not in err


def test_a_configuration_error_of_the_sdk_has_the_configuration_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_ADAPTERS", '{"no_such_port": "x"}')
    code, _, err = outcome(["ml", "list"], capsys)
    assert code == EXIT_CONFIGURATION
    assert err.startswith("error: unknown port 'no_such_port'") and len(err.strip().splitlines()) == 1


def test_an_unknown_variable_is_warned_about_with_the_closest_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_TOPK", "3")
    monkeypatch.setenv("MOTADATA_PARSING__TIMEOUT_SECONDS", "30")  # nested: known
    monkeypatch.setenv("MOTADATA_TEST_POSTGRES_DSN", "postgresql://x")  # the test fixtures': known
    code, out, err = outcome(["ml", "list", "--json"], capsys)
    assert code == EXIT_OK and out.strip() == "[]"
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: MOTADATA_TOPK is not a setting of the SDK and is ignored (did you mean MOTADATA_TOP_K?)"
    ]


def test_the_known_variables_are_derived_from_the_settings_model() -> None:
    known = known_variables()
    for name, field in Settings.model_fields.items():
        if isinstance(field.validation_alias, str):
            continue  # read under its own name (OTEL_EXPORTER_OTLP_ENDPOINT)
        assert f"MOTADATA_{name.upper()}" in known
    assert "MOTADATA_PARSING__KEY_FIELD" in known
    assert {"MOTADATA_LOG_FORMAT", "MOTADATA_LOG_LEVEL", "MOTADATA_LOG_SENSITIVE"} <= known
    assert not {name for name in OTHER_VARIABLES if name.startswith("MOTADATA_LOG_")}
    assert unknown_variables({"MOTADATA_CHUNK_SIZ": "1", "MOTADATA_CHUNK_SIZE": "1", "PATH": "/bin"}) == [
        ("MOTADATA_CHUNK_SIZ", "MOTADATA_CHUNK_SIZE")
    ]


def test_usage_input_and_runtime_failures_have_distinct_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = outcome(["ml", "promote", "sla"], capsys)  # a missing argument
    assert code == EXIT_USAGE and "Missing argument 'VERSION'" in err
    code, _, err = outcome(["ml", "predict", "sla"], capsys)  # neither --record nor --input
    assert code == EXIT_USAGE and "exactly one of --record and --input" in err
    code, _, err = outcome(["ml", "promote", "sla", "1", "--tenant", "acme"], capsys)  # NotFound
    assert code == EXIT_USAGE and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("MOTADATA_PROFILE", "services")
    monkeypatch.setenv("MOTADATA_POSTGRES_DSN", "postgresql://nobody:secret@127.0.0.1:1/none")
    code, _, err = outcome(["ml", "list"], capsys)  # the database does not answer
    assert code == EXIT_FAILURE
    assert err.startswith("error: ") and "secret" not in err


def test_background_ingest_without_nats_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path))
    code, out, err = outcome(["ingest", str(tmp_path), "--background"], capsys)
    assert code == EXIT_CONFIGURATION and out == ""
    assert "MOTADATA_NATS_URL" in err


def test_a_command_that_needs_a_tenant_takes_the_global_one_and_refuses_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path))
    code, out, _ = outcome(["--tenant", "acme", "keys", "list", "--json"], capsys)
    assert code == EXIT_OK and out.strip() == "[]"
    code, _, err = outcome(["keys", "list"], capsys)
    assert code == EXIT_USAGE and "--tenant" in err
