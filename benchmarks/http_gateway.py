"""The HTTP gateway's overhead: the openai client against an OpenAI-protocol upstream directly,
through this SDK's ``/v1/chat/completions``, and through the LiteLLM proxy, in one run.

Three servers, each its own process, all on loopback:

* the upstream: the loopback OpenAI-protocol server (``motadata_ai.testing.openai_server``);
* the SDK: the application ``motadata-ai serve`` runs (``create_app(ai, keys=...)`` over
  ``connect()``, memory profile, ``MOTADATA_LLM_MODEL=openai/gpt-4o-mini`` at the upstream) with
  every gateway policy on: response cache and in-flight de-duplication (each prompt is new, so
  every call is a miss that reaches the upstream), tenant rate limits (set high enough not to
  refuse), guardrails at ``medium``, the usage ledger, tracing, and a virtual key with its own rate
  limit and budget;
* the LiteLLM proxy (``litellm --config ...`` with a master key and one model naming the same
  upstream), when the ``bench`` extra's ``litellm[proxy]`` is installed (else its line is skipped
  and said so).

The client (``openai.AsyncOpenAI``, ``max_retries=0``) runs in this process: sequential calls
taking turns between the targets, then 16 concurrent callers per target, then streaming (time to
the first token and to the last chunk).

    python benchmarks/http_gateway.py            # 1,000 sequential calls per target
    python benchmarks/http_gateway.py --quick    # 200, about a minute

The last line printed is one JSON object with ``direct_p50_ms``, ``sdk_v1_p50_ms``,
``litellm_proxy_p50_ms`` and ``sdk_v1_overhead_ratio_vs_litellm_proxy`` (the SDK's p50 overhead
over direct divided by the proxy's; the target is at most 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL = "gpt-4o-mini"
MASTER_KEY = "sk-bench-master"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 0.95),
        "p99_ms": percentile(samples, 0.99),
    }


def show(name: str, figures: dict[str, float], extra: str = "") -> None:
    print(
        f"{name:40s} p50 {figures['p50_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms  "
        f"p99 {figures['p99_ms']:7.2f} ms{extra}"
    )


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# --- the SDK server (a child process) -------------------------------------------------------------


async def serve_sdk(upstream: str, port: int, token_file: Path) -> None:
    """The application of ``motadata-ai serve`` over the upstream, with a virtual key."""
    import uvicorn

    from motadata_ai.api import connect
    from motadata_ai.domain.access import VirtualKeys
    from motadata_ai.http import create_app
    from motadata_ai.settings import Settings

    settings = Settings(
        profile="memory",
        llm_model=f"openai/{MODEL}",
        llm_api_base=upstream,
        llm_api_key="sk-upstream",
        requests_per_minute=10_000_000,
        burst_size=1_000_000,
        validation_level="medium",
    )
    async with connect(settings, warm_up=False) as ai:
        keys = VirtualKeys(ai.port("api_keys"), limits=ai.port("limits"))
        issued = await keys.create("bench", requests_per_minute=10_000_000, budget_usd=1_000_000.0)
        await asyncio.to_thread(token_file.write_text, issued.token)
        config = uvicorn.Config(
            create_app(ai, keys=keys), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        await uvicorn.Server(config).serve()


def start_sdk(upstream: str, folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    from motadata_ai.testing.servers.process import free_port

    port = free_port()
    token_file = folder / "sdk-token"
    log = (folder / "sdk.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-sdk",
            "--upstream",
            upstream,
            "--port",
            str(port),
            "--token-file",
            str(token_file),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/health", 120, process)
    return process, f"http://127.0.0.1:{port}/v1", token_file.read_text()


def start_litellm_proxy(upstream: str, folder: Path) -> tuple[subprocess.Popen[bytes] | None, str, str]:
    """The LiteLLM proxy, or ``None`` with the reason when it is not installed or does not start."""
    if importlib.util.find_spec("litellm.proxy") is None or importlib.util.find_spec("backoff") is None:
        return None, "", "litellm[proxy] is not installed (pip install 'motadata-ai-sdk[bench]')"
    binary = shutil.which("litellm", path=str(Path(sys.executable).parent)) or shutil.which("litellm")
    if binary is None:
        return None, "", "the litellm command is not on PATH"
    from motadata_ai.testing.servers.process import free_port

    port = free_port()
    config = folder / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}\n"
        "      api_key: sk-upstream\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
    )
    log = (folder / "litellm.log").open("wb")
    process = subprocess.Popen(
        [binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, process)
    except RuntimeError as error:
        process.kill()
        return None, "", f"the LiteLLM proxy did not start: {error} (see {folder / 'litellm.log'})"
    return process, f"http://127.0.0.1:{port}", MASTER_KEY


# --- measurement ----------------------------------------------------------------------------------


Call = Callable[[int], Awaitable[Any]]


def chat_call(client: Any, model: str) -> Call:
    async def call(number: int) -> None:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"Which port does web-{number} listen on?"}]
        )

    return call


def stream_call(client: Any, model: str, first_tokens: list[float]) -> Call:
    async def call(number: int) -> None:
        started = time.perf_counter()
        stream = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": f"Stream the runbook of host {number}, please"}],
            stream=True,
        )
        first = True
        async for chunk in stream:
            if first and chunk.choices and chunk.choices[0].delta.content:
                first_tokens.append((time.perf_counter() - started) * 1000.0)
                first = False

    return call


async def sequential(calls: dict[str, Call], n: int, start: int, warmup: int = 20) -> dict[str, list[float]]:
    """Each call ``n`` times, taking turns, so load drifts hit every target alike."""
    number = start
    for _ in range(warmup):
        for call in calls.values():
            number += 1
            await call(number)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            number += 1
            started = time.perf_counter()
            await call(number)
            samples[name].append((time.perf_counter() - started) * 1000.0)
    return samples


async def concurrent(call: Call, n: int, start: int, workers: int = 16) -> tuple[list[float], float]:
    """``n`` calls by ``workers`` concurrent callers: per-call latencies and calls per second."""
    queue = iter(range(start, start + n))
    samples: list[float] = []

    async def worker() -> None:
        for number in queue:
            began = time.perf_counter()
            await call(number)
            samples.append((time.perf_counter() - began) * 1000.0)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return samples, n / (time.perf_counter() - began)


async def measure(quick: bool) -> dict[str, Any]:
    import openai

    from motadata_ai.testing.openai_server import OpenAIServer

    n = 200 if quick else 1000
    folder = Path(tempfile.mkdtemp(prefix="motadata-http-bench-"))
    upstream = OpenAIServer(mode="process").start()
    upstream.set_recording(False)
    processes: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {"calls_per_target": n, "load_average_1m": os.getloadavg()[0]}
    try:
        sdk_process, sdk_url, sdk_token = start_sdk(upstream.base_url, folder)
        processes.append(sdk_process)
        proxy_process, proxy_url, proxy_key = start_litellm_proxy(upstream.base_url, folder)
        if proxy_process is not None:
            processes.append(proxy_process)
        else:
            print(f"LiteLLM proxy: skipped ({proxy_key})")
        clients = {
            "direct (openai client -> upstream)": (
                openai.AsyncOpenAI(base_url=upstream.base_url, api_key="sk-upstream", max_retries=0),
                MODEL,
            ),
            "SDK /v1 (every policy on)": (
                openai.AsyncOpenAI(base_url=sdk_url, api_key=sdk_token, max_retries=0),
                f"openai/{MODEL}",
            ),
        }
        if proxy_process is not None:
            clients["LiteLLM proxy"] = (
                openai.AsyncOpenAI(base_url=proxy_url, api_key=proxy_key, max_retries=0),
                MODEL,
            )
        keys = {
            "direct (openai client -> upstream)": "direct",
            "SDK /v1 (every policy on)": "sdk_v1",
            "LiteLLM proxy": "litellm_proxy",
        }

        print(f"sequential, {n} calls per target, taking turns:")
        samples = await sequential({name: chat_call(c, m) for name, (c, m) in clients.items()}, n, start=0)
        for name, values in samples.items():
            figures[keys[name]] = summary(values)
            show("  " + name, figures[keys[name]])

        print(f"concurrency 16, {n} calls per target:")
        for offset, (name, (client, model)) in enumerate(clients.items(), start=1):
            latencies, rate = await concurrent(chat_call(client, model), n, start=offset * 1_000_000)
            figures[keys[name] + "_c16"] = {**summary(latencies), "calls_per_s": rate}
            show("  " + name, figures[keys[name] + "_c16"], f"  {rate:8.0f} calls/s")

        streamed = max(50, n // 4)
        print(f"streaming, {streamed} calls per target: time to first token / to the last chunk:")
        for offset, (name, (client, model)) in enumerate(clients.items(), start=1):
            first: list[float] = []
            total = (
                await sequential(
                    {name: stream_call(client, model, first)}, streamed, start=offset * 10_000_000, warmup=5
                )
            )[name]
            first = first[-streamed:]
            figures[keys[name] + "_stream"] = {
                "ttft_p50_ms": statistics.median(first),
                "total_p50_ms": statistics.median(total),
            }
            ttft, last = statistics.median(first), statistics.median(total)
            print(f"  {name:38s} first token p50 {ttft:7.2f} ms  last chunk p50 {last:7.2f} ms")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        upstream.stop()
    direct = figures["direct"]["p50_ms"]
    sdk = figures["sdk_v1"]["p50_ms"]
    result: dict[str, Any] = {
        "direct_p50_ms": round(direct, 3),
        "sdk_v1_p50_ms": round(sdk, 3),
        "sdk_v1_overhead_p50_ms": round(sdk - direct, 3),
        "litellm_proxy_p50_ms": None,
        "litellm_proxy_overhead_p50_ms": None,
        "sdk_v1_overhead_ratio_vs_litellm_proxy": None,
    }
    if "litellm_proxy" in figures:
        proxy = figures["litellm_proxy"]["p50_ms"]
        result["litellm_proxy_p50_ms"] = round(proxy, 3)
        result["litellm_proxy_overhead_p50_ms"] = round(proxy - direct, 3)
        result["sdk_v1_overhead_ratio_vs_litellm_proxy"] = round(
            (sdk - direct) / max(proxy - direct, 1e-9), 3
        )
    for name in ("direct", "sdk_v1", "litellm_proxy"):
        if name + "_c16" in figures:
            result[name + "_c16_p50_ms"] = round(figures[name + "_c16"]["p50_ms"], 3)
            result[name + "_c16_calls_per_s"] = round(figures[name + "_c16"]["calls_per_s"], 1)
            result[name + "_stream_ttft_p50_ms"] = round(figures[name + "_stream"]["ttft_p50_ms"], 3)
    result["load_average_1m"] = round(figures["load_average_1m"], 2)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 calls per target instead of 1,000")
    parser.add_argument("--serve-sdk", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sdk:
        asyncio.run(serve_sdk(args.upstream, args.port, args.token_file))
        return
    result = asyncio.run(measure(args.quick))
    ratio = result["sdk_v1_overhead_ratio_vs_litellm_proxy"]
    if ratio is not None:
        print(
            f"overhead over direct, p50: SDK /v1 {result['sdk_v1_overhead_p50_ms']:.2f} ms, LiteLLM proxy "
            f"{result['litellm_proxy_overhead_p50_ms']:.2f} ms: ratio {ratio:.2f} (target <= 0.5)"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
