"""Answer quality of the local extractive provider on the sample ITSM knowledge base.

A small labelled evaluation through the real path of the embedded default: a temporary data
directory (``MOTADATA_DATA_DIR``), ``motadata_ai.api.connect()`` on the ``local`` profile
(embedded PostgreSQL + pgvector, MiniLM embeddings, ``local/extractive`` through LiteLLM),
``ai.rag("eval").ingest("examples/knowledge_base")``, then ``rag.query(question)`` for each
labelled question.

Every question is labelled with the article(s) that answer it and 1-3 key phrases, any of which a
correct answer contains; questions the knowledge base does not answer are labelled as such.
An answer is scored as

- ``correct``: an answer (not "could not find") that contains a key phrase and whose first
  citation ``[n]`` is an expected article;
- ``false_not_found``: "could not find" although the knowledge base answers the question;
- ``wrong``: an answer without a key phrase, or citing another article first;
- ``correct_refusal`` / ``false_answer``: for an unanswerable question, "could not find" / any answer.

The generators compared in the same run, on the same retrieved context:

- ``baseline``: the sentence-level scoring (``ExtractiveGenerator(strategy="sentence")``, the
  behaviour before passage-level support, headings as context and step lists);
- ``default``: ``ExtractiveGenerator()`` as the local provider ships it;
- ``default+minilm`` (not with ``--quick``): the default blended with MiniLM cosine similarity of
  question and sentence (``similarity=...``), to measure whether the embedding helps.

Usage: ``python benchmarks/answer_quality.py [--quick] [--show] [--save-contexts FILE]
[--replay FILE]``. ``--save-contexts`` writes the retrieved prompts; ``--replay`` scores the
generators on such a file without a database (a development aid; the figures to report come from
the real path). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from motadata_ai.adapters.local import extractive  # noqa: E402
from motadata_ai.adapters.local.extractive import ExtractiveGenerator, ExtractiveReply  # noqa: E402

KNOWLEDGE_BASE = ROOT / "examples" / "knowledge_base"
TENANT = "eval"
_CITATION = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Case:
    """One labelled question: the articles that answer it (empty: unanswerable) and key phrases."""

    question: str
    kind: str  # howto, troubleshooting, policy, unanswerable
    articles: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    heldout: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.articles)


def _case(question: str, kind: str, articles: str = "", *phrases: str, heldout: bool = False) -> Case:
    return Case(question, kind, tuple(a for a in articles.split() if a), tuple(phrases), heldout)


def _heldout(question: str, kind: str, articles: str = "", *phrases: str) -> Case:
    return _case(question, kind, articles, *phrases, heldout=True)


MFA = "multi-factor-authentication.md"
VPN = "vpn-remote-access.md"
EMAIL = "email-and-calendar.md"
CASES: tuple[Case, ...] = (
    # how-to
    _case("How do I set up MFA on a new phone?", "howto", MFA, "Add method", "scan the QR code"),
    _case("How do I connect to the VPN from home?", "howto", VPN, "GlobalConnect", "nearest to you"),
    _case("How do I reset my password?", "howto", "password-reset.md", "portal.example.com/password"),
    _case("How can I get my work email on my phone?", "howto", EMAIL, "Outlook app"),
    _case("How do I add the printer on my Mac?", "howto", "printers.md", "System Settings"),
    _case(
        "How do I get back an older version of a folder on the S: drive?",
        "howto",
        "backup-and-restore.md",
        "Previous Versions",
    ),
    _case(
        "How do I request access to a shared mailbox?",
        "howto",
        f"{EMAIL} access-requests.md",
        "access request",
    ),
    _case(
        "How do I get software that is not in Software Center?",
        "howto",
        "software-request.md",
        "Request software",
    ),
    _case("How do I enrol my personal phone?", "howto", "mobile-device-enrolment.md", "Company Portal"),
    _case("How do I report a phishing email?", "howto", "phishing-reporting.md", "Report phishing"),
    _case(
        "How do I start a video meeting in a meeting room?",
        "howto",
        "conference-rooms.html",
        "Join",
    ),
    _case(
        "How do I work from my personal computer?",
        "howto",
        f"virtual-desktop.html {VPN}",
        "desktop.example.com",
    ),
    _case("How do I map the S: drive?", "howto", "shared-drives.md", "Map network drive"),
    _case(
        "What are the steps to set up my new laptop?",
        "howto",
        "laptop-onboarding.md",
        "Corp-Secure",
        "temporary password",
    ),
    # troubleshooting
    _case("My VPN keeps disconnecting", "troubleshooting", VPN, "update the client"),
    _case(
        "Why does my account keep getting locked?",
        "troubleshooting",
        "account-lockout.md",
        "old password",
        "previous password",
    ),
    _case(
        "My print job does not show up at the printer",
        "troubleshooting",
        "printers.md",
        "office network or the VPN",
        "FollowMe",
    ),
    _case("Outlook keeps asking for my password", "troubleshooting", EMAIL, "saved credentials"),
    _case("My emails are stuck in the outbox", "troubleshooting", EMAIL, "35 MB", "attachment size"),
    _case(
        "Corp-Secure is not in my list of Wi-Fi networks",
        "troubleshooting",
        "wifi.md",
        "certificate",
    ),
    _case(
        "I lost the phone with my authenticator app",
        "troubleshooting",
        MFA,
        "temporary access pass",
        "4357",
    ),
    _case(
        "I clicked a link in a phishing email, what now?",
        "troubleshooting",
        "phishing-reporting.md",
        "4357",
        "reset it",
    ),
    _case(
        "The screen in the meeting room shows no picture",
        "troubleshooting",
        "conference-rooms.html",
        "Room system",
        "wake",
    ),
    _case(
        "The virtual desktop is very slow",
        "troubleshooting",
        "virtual-desktop.html",
        "wired connection",
        "close other browser tabs",
    ),
    # policy and facts
    _case(
        "What is the resolution target for a P1 incident?",
        "policy",
        "incident-priority-policy.md",
        "4 hours",
    ),
    _case("When does the change advisory board meet?", "policy", "change-management.md", "Tuesday"),
    _case("Is the local disk of my laptop backed up?", "policy", "backup-and-restore.md", "not backed up"),
    _case(
        "How quickly must I report a lost laptop?",
        "policy",
        "laptop-onboarding.md",
        "within one hour",
    ),
    _case(
        "How many failed sign-ins lock my account?",
        "policy",
        "account-lockout.md",
        "10 failed",
    ),
    _case("When is the year-end change freeze?", "policy", "change-management.md", "15 December"),
    _case(
        "How long does a software request take?",
        "policy",
        "software-request.md service-catalog.md",
        "five business days",
        "5 business days",
    ),
    _case(
        "What happens to my account on my last day?",
        "policy",
        "offboarding.md",
        "disabled",
    ),
    # not in the knowledge base
    _case("When is payday this month?", "unanswerable"),
    _case("What is on the cafeteria menu today?", "unanswerable"),
    _case("What is the company's stock price?", "unanswerable"),
    _case("How many vacation days do I get per year?", "unanswerable"),
    _case("Where can I park my car at the office?", "unanswerable"),
    _case("How do I submit a travel expense claim?", "unanswerable"),
    _case("Who won the football match last night?", "unanswerable"),
    _case("How do I book a flight for a business trip?", "unanswerable"),
    # near misses: the knowledge base shares words with them but does not answer them
    _case("How do I reset my voicemail PIN?", "unanswerable"),
    _case("How much does a replacement laptop cost?", "unanswerable"),
    _case("Can I bring my dog to the office?", "unanswerable"),
    _case("How do I change the ringtone on my desk phone?", "unanswerable"),
    # held out: written after the generator's development and scored as they came out
    _heldout("How do I unlock my account?", "howto", "account-lockout.md", "Unlock account", "4357"),
    _heldout("How do I scan a document to my email?", "howto", "printers.md", "Scan to me"),
    _heldout(
        "How do I share my screen in a meeting room?",
        "howto",
        "conference-rooms.html",
        "HDMI",
        "same meeting",
    ),
    _heldout(
        "How do I request a guest Wi-Fi voucher for visitors?",
        "howto",
        "wifi.md service-catalog.md",
        "reception",
        "Guest Wi-Fi voucher",
    ),
    _heldout(
        "Outlook says my attachment is too large",
        "troubleshooting",
        EMAIL,
        "35 MB",
        "link from the shared drive",
    ),
    _heldout(
        "What should a change request include?",
        "policy",
        "change-management.md",
        "rollback plan",
        "implementation plan",
    ),
    _heldout("How often are laptops replaced?", "policy", "laptop-onboarding.md", "four years"),
    _heldout("How big can my mailbox get?", "policy", EMAIL, "100 GB"),
    _heldout("Who approves administrator rights?", "policy", "access-requests.md", "security team"),
    _heldout("How long are mailboxes kept in the backup?", "policy", "backup-and-restore.md", "1 year"),
    _heldout("What is the availability target for core services?", "policy", "sla-definitions.md", "99.9%"),
    _heldout("When is the Service Desk chat open?", "policy", "service-desk-contact.txt", "08:00 to 18:00"),
    _heldout("How do I order business cards?", "unanswerable"),
    _heldout("What is the dress code for the office?", "unanswerable"),
    _heldout("How do I reset the alarm code for the building?", "unanswerable"),
    _heldout("When does the IT newsletter come out?", "unanswerable"),
)


# --- scoring --------------------------------------------------------------------------------------


def is_not_found(answer: str) -> bool:
    """The generators' and the RAG system's "the context lacks the answer" replies."""
    return answer.strip().lower().startswith("i could not find")


def score(case: Case, answer: str, cited_files: dict[int, str]) -> str:
    """``correct``, ``false_not_found``, ``wrong``, ``correct_refusal`` or ``false_answer``."""
    refused = is_not_found(answer)
    if not case.answerable:
        return "correct_refusal" if refused else "false_answer"
    if refused:
        return "false_not_found"
    citations = [int(n) for n in _CITATION.findall(answer)]
    first = cited_files.get(citations[0], "") if citations else ""
    has_phrase = any(p.lower() in answer.lower() for p in case.phrases)
    return "correct" if has_phrase and first in case.articles else "wrong"


def summarise(outcomes: Sequence[str], cases: Sequence[Case]) -> dict[str, float]:
    """Rates over the answerable and the unanswerable questions."""
    answerable = [o for o, c in zip(outcomes, cases, strict=True) if c.answerable]
    unanswerable = [o for o, c in zip(outcomes, cases, strict=True) if not c.answerable]
    n, m = len(answerable) or 1, len(unanswerable) or 1
    return {
        "correct_rate": round(answerable.count("correct") / n, 3),
        "false_not_found_rate": round(answerable.count("false_not_found") / n, 3),
        "wrong_rate": round(answerable.count("wrong") / n, 3),
        "correct_refusal_rate": round(unanswerable.count("correct_refusal") / m, 3),
    }


# --- generators -----------------------------------------------------------------------------------

Similarity = Callable[[str, Sequence[str]], Sequence[float]]


def generators(similarity: Similarity | None) -> dict[str, ExtractiveGenerator]:
    """The compared generators, by name."""
    found = {
        "baseline": ExtractiveGenerator(strategy="sentence"),
        "default": ExtractiveGenerator(),
    }
    if similarity is not None:
        found["default+minilm"] = ExtractiveGenerator(similarity=similarity)
    return found


def minilm_similarity() -> Similarity:
    """Cosine similarity of the question and each text with the shared MiniLM model."""
    from motadata_ai.adapters.local.minilm import shared_embedder

    embedder = shared_embedder()

    def similarity(question: str, texts: Sequence[str]) -> list[float]:
        vectors = embedder.embed([question, *texts])
        q = vectors[0]
        return [sum(a * b for a, b in zip(q, v, strict=True)) for v in vectors[1:]]

    return similarity


class Timed:
    """Milliseconds spent in ``ExtractiveGenerator.respond`` per call."""

    def __init__(self) -> None:
        self.ms: list[float] = []

    def respond(self, generator: ExtractiveGenerator, messages: Sequence[dict[str, Any]]) -> ExtractiveReply:
        started = time.perf_counter()
        reply = generator.respond(messages)
        self.ms.append((time.perf_counter() - started) * 1000)
        return reply


# The retrieval settings compared: as shipped, and every question given its top-5 passages
# (similarity threshold 0), which leaves the refusal to the generator alone.
RETRIEVAL = {"shipped": {}, "all-context": {"similarity_threshold": 0.0}}
Results = dict[tuple[str, str], list[tuple[str, str]]]  # (retrieval, generator) -> (answer, outcome)


# --- the real path --------------------------------------------------------------------------------


async def run_live(
    cases: Sequence[Case], variants: dict[str, ExtractiveGenerator], timers: dict[str, Timed]
) -> tuple[Results, dict[str, list[dict[str, Any]]], dict[str, float]]:
    """Ingest the sample knowledge base and ask every question with every generator."""
    from motadata_ai.adapters.local import LOCAL_CHAT_MODEL
    from motadata_ai.api import connect
    from motadata_ai.settings import Settings

    class Recording:
        """The generator the local chat adapter answers with: records the messages it answers
        and times the generator under test."""

        def __init__(self, generator: ExtractiveGenerator, timer: Timed) -> None:
            self.generator = generator
            self.timer = timer
            self.messages: list[list[dict[str, Any]]] = []

        def respond(self, messages: Sequence[dict[str, Any]], tools: Sequence[Any] = ()) -> ExtractiveReply:
            self.messages.append([dict(m) for m in messages])
            return self.timer.respond(self.generator, messages)

    settings = Settings(
        profile="local",
        enable_caching=False,  # every generator answers for itself
        requests_per_minute=1_000_000,
        burst_size=1_000_000,
    )
    results: Results = {}
    contexts: dict[str, list[dict[str, Any]]] = {}
    figures: dict[str, float] = {}
    async with connect(settings) as ai:
        started = time.perf_counter()
        report = await ai.rag(TENANT).ingest(str(KNOWLEDGE_BASE))
        figures["ingest_s"] = round(time.perf_counter() - started, 1)
        figures["chunks"] = report.chunks
        for retrieval, options in RETRIEVAL.items():
            rag = ai.rag(TENANT, **options)
            contexts[retrieval] = []
            for name, generator in variants.items():
                provider = Recording(generator, timers[name])
                # the in-process adapter the gateway routes local/extractive to
                ai.container.llm().routes.for_model(LOCAL_CHAT_MODEL).generator = provider
                results[(retrieval, name)] = []
                for case in cases:
                    asked = len(provider.messages)
                    response = await rag.query(case.question)
                    files = {s.citation: Path(s.source).name for s in response.sources if s.citation}
                    results[(retrieval, name)].append((response.answer, score(case, response.answer, files)))
                    if name == "baseline":
                        messages = provider.messages[-1] if len(provider.messages) > asked else []
                        contexts[retrieval].append(
                            {
                                "question": case.question,
                                "messages": messages,
                                "files": {str(k): v for k, v in files.items()},
                            }
                        )
    return results, contexts, figures


def run_replay(
    path: Path, cases: Sequence[Case], variants: dict[str, ExtractiveGenerator], timers: dict[str, Timed]
) -> Results:
    """Score the generators on saved prompts (no database, no retrieval)."""
    results: Results = {}
    for retrieval, saved_cases in json.loads(path.read_text()).items():
        saved = {c["question"]: c for c in saved_cases}
        for name, generator in variants.items():
            results[(retrieval, name)] = []
            for case in cases:
                context = saved.get(case.question)
                if context is None or not context["messages"]:
                    answer = "I could not find the answer in the knowledge base."
                    files: dict[int, str] = {}
                else:
                    reply = timers[name].respond(generator, context["messages"])
                    answer = reply.text or ""
                    files = {int(k): v for k, v in context["files"].items()}
                results[(retrieval, name)].append((answer, score(case, answer, files)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the MiniLM-blended variant")
    parser.add_argument("--show", action="store_true", help="print every answer")
    parser.add_argument("--save-contexts", type=Path, help="write the retrieved prompts as JSON")
    parser.add_argument("--replay", type=Path, help="score saved prompts instead of the real path")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    similarity = None if args.quick else minilm_similarity()
    variants = generators(similarity)
    timers = {name: Timed() for name in variants}
    figures: dict[str, float] = {}
    if args.replay:
        results = run_replay(args.replay, CASES, variants, timers)
        contexts = json.loads(args.replay.read_text())
        mode = f"replay of {args.replay}"
    else:
        with tempfile.TemporaryDirectory(prefix="motadata-answer-quality-") as data_dir:
            os.environ["MOTADATA_DATA_DIR"] = data_dir
            results, contexts, figures = asyncio.run(run_live(CASES, variants, timers))
        if args.save_contexts:
            args.save_contexts.write_text(json.dumps(contexts, indent=1, ensure_ascii=False))
        mode = "real path: embedded PostgreSQL + pgvector, MiniLM, local/extractive via LiteLLM"

    answerable = sum(c.answerable for c in CASES)
    print(f"Answer quality on {KNOWLEDGE_BASE.relative_to(ROOT)} ({mode})")
    print(f"{len(CASES)} questions: {answerable} answerable, {len(CASES) - answerable} not in the KB")
    if figures:
        print(f"ingest: {figures['chunks']:.0f} chunks in {figures['ingest_s']} s")
    names = list(variants)
    retrievals = list(dict.fromkeys(r for r, _ in results))
    if args.show:
        for retrieval in retrievals:
            print(f"\n=== retrieval: {retrieval}")
            for i, case in enumerate(CASES):
                print(f"\nQ: {case.question}  [{case.kind}; {' '.join(case.articles) or 'not in KB'}]")
                for name in names:
                    answer, outcome = results[(retrieval, name)][i]
                    print(f"  {name:>15} {outcome:>16}: {answer[:400]!r}")
        print()
    summaries = {key: summarise([o for _, o in outcomes], CASES) for key, outcomes in results.items()}
    print(
        f"{'retrieval':>12} {'generator':>15} {'correct':>8} {'false n/f':>10} {'no ctx':>7} "
        f"{'wrong':>7} {'refusal':>8}"
    )
    for retrieval in retrievals:
        for name in names:
            s = summaries[(retrieval, name)]
            no_context = sum(
                1
                for (answer, outcome) in results[(retrieval, name)]
                if outcome == "false_not_found" and "knowledge base" in answer
            )
            print(
                f"{retrieval:>12} {name:>15} {s['correct_rate']:>8.3f} {s['false_not_found_rate']:>10.3f} "
                f"{no_context:>7d} {s['wrong_rate']:>7.3f} {s['correct_refusal_rate']:>8.3f}"
            )
    for kind in ("howto", "troubleshooting", "policy"):
        picked = [i for i, c in enumerate(CASES) if c.kind == kind]
        row = " ".join(
            f"{name}={sum(results[('shipped', name)][i][1] == 'correct' for i in picked)}/{len(picked)}"
            for name in names
        )
        print(f"correct (shipped) {kind:>15}: {row}")
    for name in names:
        ms = timers[name].ms
        if ms:
            print(
                f"generator {name:>15}: {statistics.fmean(ms):.2f} ms mean, "
                f"{sorted(ms)[int(0.95 * (len(ms) - 1))]:.2f} ms p95 per answer ({len(ms)} answers)"
            )
    heldout = [c.heldout for c in CASES]
    for retrieval in retrievals:
        row = []
        for name in names:
            picked = [
                (o, c) for (_, o), c in zip(results[(retrieval, name)], CASES, strict=True) if c.heldout
            ]
            split = summarise([o for o, _ in picked], [c for _, c in picked])
            row.append(
                f"{name}: correct {split['correct_rate']:.3f} refusal {split['correct_refusal_rate']:.3f}"
            )
        print(f"held-out {sum(heldout)} questions ({retrieval}): " + "; ".join(row))
    held = {
        key: summarise(
            [o for (_, o), c in zip(outcomes, CASES, strict=True) if c.heldout],
            [c for c in CASES if c.heldout],
        )
        for key, outcomes in results.items()
    }
    # Chunks are parsed once and cached; the cost of an answer whose chunks are all new:
    uncached = Timed()
    for context in contexts["all-context"]:
        if context["messages"]:
            extractive._parse.cache_clear()
            uncached.respond(variants["default"], context["messages"])
    print(
        f"generator {'default':>15}: {statistics.fmean(uncached.ms):.2f} ms mean with every chunk parsed "
        f"afresh ({len(uncached.ms)} answers)"
    )
    shipped, forced = summaries[("shipped", "default")], summaries[("all-context", "default")]
    base, base_forced = summaries[("shipped", "baseline")], summaries[("all-context", "baseline")]
    ms_default = timers["default"].ms
    summary: dict[str, Any] = {
        "correct_rate": shipped["correct_rate"],
        "false_not_found_rate": shipped["false_not_found_rate"],
        "wrong_rate": shipped["wrong_rate"],
        "correct_refusal_rate": shipped["correct_refusal_rate"],
        "baseline_correct_rate": base["correct_rate"],
        "baseline_false_not_found_rate": base["false_not_found_rate"],
        "baseline_correct_refusal_rate": base["correct_refusal_rate"],
        "all_context_correct_rate": forced["correct_rate"],
        "all_context_correct_refusal_rate": forced["correct_refusal_rate"],
        "all_context_baseline_correct_rate": base_forced["correct_rate"],
        "all_context_baseline_correct_refusal_rate": base_forced["correct_refusal_rate"],
        "heldout_correct_rate": held[("shipped", "default")]["correct_rate"],
        "heldout_baseline_correct_rate": held[("shipped", "baseline")]["correct_rate"],
        "heldout_correct_refusal_rate": held[("shipped", "default")]["correct_refusal_rate"],
        "heldout_all_context_correct_rate": held[("all-context", "default")]["correct_rate"],
        "heldout_all_context_correct_refusal_rate": held[("all-context", "default")]["correct_refusal_rate"],
        "ms_per_answer": round(statistics.fmean(ms_default), 2) if ms_default else 0.0,
        "ms_per_answer_uncached": round(statistics.fmean(uncached.ms), 2),
        "questions": len(CASES),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if "default+minilm" in names:
        minilm, minilm_forced = (
            summaries[("shipped", "default+minilm")],
            summaries[("all-context", "default+minilm")],
        )
        summary["minilm_correct_rate"] = minilm["correct_rate"]
        summary["minilm_correct_refusal_rate"] = minilm["correct_refusal_rate"]
        summary["all_context_minilm_correct_rate"] = minilm_forced["correct_rate"]
        summary["all_context_minilm_correct_refusal_rate"] = minilm_forced["correct_refusal_rate"]
        summary["minilm_ms_per_answer"] = round(statistics.fmean(timers["default+minilm"].ms), 2)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
