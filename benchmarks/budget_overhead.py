"""Budget and experiment overhead: the gateway's in-process cost per call with budgets, alerts and
an A/B experiment on, beside the same gateway with neither, in one run.

The model is in process and answers at once (no HTTP noise): what is measured is the chain.
Variants, run in interleaved rounds so each sees the same machine load:

* ``baseline``: no budget, no experiment;
* ``budgets``: daily and monthly tenant budgets (thresholds 0.5, 0.8, 1.0) and a per-user daily
  budget, all far from their thresholds;
* ``experiment``: a model experiment taking every call (share 0.5, split by request);
* ``both``: the two together.

Besides p50/p95 per call it prints how many spend queries and alert claims reached the ledger
(the budgets re-read the spend every ``budget_refresh_seconds``; a claim is made only when a
threshold is reached). Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.budgets import BudgetRule
from motadata_ai.domain.gateway.experiments import Experiment
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.usage import BudgetAlert, ModelPrice


class CountingLedger(InMemoryUsageLedger):
    """The in-memory ledger, counting spend queries and alert claims."""

    def __init__(self) -> None:
        super().__init__()
        self.spend_queries = 0
        self.claims = 0

    async def spend(self, **query: Any) -> float:  # type: ignore[override]
        self.spend_queries += 1
        return await super().spend(**query)

    async def claim_budget_alert(self, alert: BudgetAlert) -> bool:
        self.claims += 1
        return await super().claim_budget_alert(alert)


PRICES = {"bench/model": ModelPrice(output_per_token=1e-6), "bench/other": ModelPrice(output_per_token=1e-6)}
EXPERIMENT = Experiment(
    name="bench", champion_model="bench/model", challenger_model="bench/other", share=0.5, split_by="request"
)
BUDGETS: dict[str, Any] = {
    "daily_budget_usd": 1000.0,
    "monthly_budget_usd": 10000.0,
    "budgets": (BudgetRule(period="daily", limit_usd=500.0, user="*"),),
}
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "budgets": BUDGETS,
    "experiment": {"experiments": (EXPERIMENT,)},
    "both": {**BUDGETS, "experiments": (EXPERIMENT,)},
}


def gateway(options: dict[str, Any], ledger: CountingLedger) -> Gateway:
    config = GatewayConfig(
        default_model="bench/model",
        model_prices=PRICES,
        requests_per_minute=None,
        enable_caching=False,
        request_deduplication=False,
        **options,
    )
    return Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=config,
        ledger=ledger,
    )


async def run(rounds: int, calls: int) -> dict[str, Any]:
    ledgers = {name: CountingLedger() for name in VARIANTS}
    gateways = {name: gateway(options, ledgers[name]) for name, options in VARIANTS.items()}
    timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
    counter = 0
    for gw in gateways.values():  # warm up
        for _ in range(50):
            counter += 1
            await gw.generate(_ask(counter), tenant_id="acme", user_id="bob")
        await gw.flush()
    gc.collect()
    for _ in range(rounds):
        for name, gw in gateways.items():
            for _ in range(calls):
                counter += 1
                request = _ask(counter)
                started = time.perf_counter()
                await gw.generate(request, tenant_id="acme", user_id="bob")
                timings[name].append((time.perf_counter() - started) * 1e6)
            await gw.flush()
    result: dict[str, Any] = {}
    baseline = statistics.median(timings["baseline"])
    for name, values in timings.items():
        ordered = sorted(values)
        result[name] = {
            "calls": len(values),
            "p50_us": round(statistics.median(ordered), 1),
            "p95_us": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "p50_vs_baseline": round(statistics.median(ordered) / baseline, 3),
            "spend_queries": ledgers[name].spend_queries,
            "alert_claims": ledgers[name].claims,
        }
    return result


def _ask(n: int) -> ChatRequest:
    return ChatRequest(model="bench/model", messages=(Message(role="user", content=f"question {n}"),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds of every variant")
    parser.add_argument("--calls", type=int, default=200, help="calls per variant per round")
    parser.add_argument("--quick", action="store_true", help="5 rounds of 100 calls")
    args = parser.parse_args()
    rounds, calls = (5, 100) if args.quick else (args.rounds, args.calls)
    result = asyncio.run(run(rounds, calls))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    header = ("variant", "calls", "p50 µs", "p95 µs", "p50 ×", "spend reads", "claims")
    print(
        f"{header[0]:<12}"
        + "".join(f"{h:>{w}}" for h, w in zip(header[1:], (8, 10, 10, 8, 13, 8), strict=True))
    )
    for name, row in result.items():
        print(
            f"{name:<12}{row['calls']:>8}{row['p50_us']:>10}{row['p95_us']:>10}{row['p50_vs_baseline']:>8}"
            f"{row['spend_queries']:>13}{row['alert_claims']:>8}"
        )
    print(json.dumps({"load": load, **result}))


if __name__ == "__main__":
    main()
