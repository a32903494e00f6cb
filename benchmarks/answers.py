"""The local model alone, on the text of the quality set: its settings side by side in one run.

``quality.py`` measures the whole path; this isolates the language model so that its settings can be compared
without the recognizer's mistakes: every question of ``benchmarks/data/quality.json`` is asked as text (the
instructions, then the question) under each answer variant (temperature, sampling, instructions with a few
examples), and every tool request under each tool-use policy (the share of the first step's probability a
reply needs on opening a call before it may make one). A reply is correct as ``quality.py`` judges it; a reply
that is not a speakable sentence (no letters or digits, or ending in ``:``) is counted apart. The ``tune`` and
``held_out`` splits are reported apart: only ``tune`` guided the choices.

Run: ``.venv/bin/python benchmarks/answers.py [--answers NAME,…] [--policies NAME,…] [--seeds N]`` (about
fifteen minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import percentile_table, write_results
from quality import DATA, correct, same_arguments

from voxlive.config import LLMSettings, SessionDefaults
from voxlive.speech.llama_cpp_llm import LlamaCppLLM
from voxlive.speech.llm import LLMRequest, TextDelta, ToolCallDone
from voxlive.speech.sampling import Sampling

EXAMPLES = (
    "You are a helpful voice assistant. Your replies are spoken aloud: answer the question directly in one "
    "to three short, complete sentences, without lists or markup. Do what the user asks about the form of "
    "the reply, such as one word, a number or another language. Call a tool only when the request needs "
    "what the tool does; when a tool result is available, use it to answer.\n"
    "For example:\n"
    "User: What is the capital of Germany?\nAssistant: The capital of Germany is Berlin.\n"
    "User: What is nine times three?\nAssistant: Nine times three is 27.\n"
    "User: Reply with one word: what color is snow?\nAssistant: White."
)
"""Instructions that spell out the form of a reply and show three examples (none from the set)."""


@dataclass(frozen=True)
class Variant:
    temperature: float = SessionDefaults().temperature
    sampling: Sampling = field(default_factory=lambda: LLMSettings().sampling())
    instructions: str = SessionDefaults().instructions


DEFAULT = Variant()
ANSWERS = {
    "default (t 0.7)": DEFAULT,
    "t 0.3": replace(DEFAULT, temperature=0.3),
    "greedy": replace(DEFAULT, temperature=0.0),
    "min_p 0.2": replace(DEFAULT, sampling=replace(DEFAULT.sampling, min_p=0.2)),
    "repeat 1.1": replace(DEFAULT, sampling=replace(DEFAULT.sampling, repeat_penalty=1.1)),
    "three examples": replace(DEFAULT, instructions=EXAMPLES),
    "three examples + greedy": replace(DEFAULT, instructions=EXAMPLES, temperature=0.0),
}
POLICIES = {
    name: replace(DEFAULT, sampling=replace(DEFAULT.sampling, call_threshold=threshold))
    for name, threshold in (
        ("sampled (threshold 0)", 0.0),
        ("call at ≥ 0.5", 0.5),
        ("call at ≥ 0.7", 0.7),
        ("call at ≥ 0.9", 0.9),
    )
}


WIDTHS = (10, 8, 10, 8, 9)


def speakable(reply: str) -> bool:
    """Whether a reply can be said as it is: some letters or digits, not ending in a colon."""
    return bool(re.search(r"\w", reply)) and not reply.rstrip().endswith(":")


async def ask(llm: LlamaCppLLM, variant: Variant, text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    llm.sampling = variant.sampling
    messages = [{"role": "system", "content": variant.instructions}, {"role": "user", "content": text}]
    request = LLMRequest(messages, tools=tools, temperature=variant.temperature, max_tokens=200)
    began = time.perf_counter()
    reply, calls = "", []
    async for event in llm.stream(request):
        if isinstance(event, TextDelta):
            reply += event.text
        elif isinstance(event, ToolCallDone):
            calls.append({"name": event.name, "arguments": event.arguments})
    return {"reply": reply.strip(), "calls": calls, "ms": (time.perf_counter() - began) * 1000}


def percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def cell(value: float | None) -> str:
    return f"{value:.1f}%" if value is not None else "-"


async def answers(llm: LlamaCppLLM, names: list[str], seeds: int, questions: list[dict[str, Any]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    splits = ("tune", "held_out")
    print(f"{len(questions)} questions as text, {seeds} seed(s) each: correct (%) by split and kind; unspeakable")
    kinds = list(dict.fromkeys(q["kind"] for q in questions))
    print(f"{'variant':<22} {'all':>6} " + " ".join(f"{c:>9}" for c in [*splits, *kinds]) + f" {'unspeakable':>11}")
    times: dict[str, list[float]] = {}
    for name in names:
        variant = ANSWERS[name]
        records = []
        for seed in range(seeds):
            for question in questions:
                answer = await ask(llm, variant, question["text"], [])
                records.append({"id": question["id"], "split": question["split"], "kind": question["kind"],
                                "seed": seed, **answer, "correct": correct(question, answer["reply"]),
                                "speakable": speakable(answer["reply"])})  # fmt: skip

        def share(group: list[dict[str, Any]]) -> float | None:
            return percent(sum(r["correct"] for r in group), len(group))

        scores = {"all": share(records)} | {s: share([r for r in records if r["split"] == s]) for s in splits}
        scores |= {k: share([r for r in records if r["kind"] == k]) for k in kinds}
        unspeakable = sum(not r["speakable"] for r in records)
        print(f"{name:<22} " + " ".join(f"{cell(v):>{6 if k == 'all' else 9}}" for k, v in scores.items())
              + f" {unspeakable:>11}")  # fmt: skip
        times[name] = [r["ms"] for r in records]
        report[name] = {"variant": repr(variant), "correct_percent": scores, "unspeakable": unspeakable,
                        "records": records}  # fmt: skip
    print()
    print(percentile_table("Whole reply as text (ms)", times))
    return report


async def policies(llm: LlamaCppLLM, names: list[str], seeds: int, data: dict[str, Any]) -> dict[str, Any]:
    tools = [{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}} for t in data["tools"]]
    requests = data["tool_requests"]
    report: dict[str, Any] = {}
    print(f"\n{len(requests)} text requests with {len(tools)} tools offered, {seeds} seed(s) each")
    print(
        f"{'policy':<22} {'split':<9} {'precision':>10} {'recall':>8} {'arguments':>10} {'no call':>8} {'answered':>9}"
    )
    for name in names:
        variant = POLICIES[name]
        records = []
        for seed in range(seeds):
            for request in requests:
                answer = await ask(llm, variant, request["text"], tools)
                right = [c for c in answer["calls"] if request["tool"] and c["name"] == request["tool"]]
                records.append({"id": request["id"], "split": request["split"], "tool": request["tool"],
                                "seed": seed, **answer, "right_calls": len(right),
                                "arguments_ok": bool(right) and same_arguments(request["arguments"],
                                                                               right[0]["arguments"])})  # fmt: skip
        report[name] = {"variant": repr(variant), "records": records, "scores": {}}
        for split in ("all", "tune", "held_out"):
            group = [r for r in records if split in ("all", r["split"])]
            calls = sum(len(r["calls"]) for r in group)
            needed = [r for r in group if r["tool"]]
            called = [r for r in needed if r["right_calls"]]
            plain = [r for r in group if not r["tool"]]
            scores = {
                "precision_percent": percent(sum(r["right_calls"] for r in group), calls),
                "recall_percent": percent(len(called), len(needed)),
                "arguments_percent": percent(sum(r["arguments_ok"] for r in called), len(called)),
                "no_call_when_none_needed_percent": percent(sum(not r["calls"] for r in plain), len(plain)),
                "answered_speakably_percent": percent(
                    sum(not r["calls"] and speakable(r["reply"]) for r in plain), len(plain)
                ),
            }
            report[name]["scores"][split] = scores
            print(f"{name if split == 'all' else '':<22} {split:<9} " + " ".join(
                f"{cell(v):>{w}}" for v, w in zip(scores.values(), WIDTHS, strict=True)))  # fmt: skip
    return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", default=",".join(ANSWERS), help="answer variants, comma-separated")
    parser.add_argument("--policies", default=",".join(POLICIES), help="tool-use policies, comma-separated")
    parser.add_argument("--seeds", type=int, default=1, help="each question is asked once per seed")
    parser.add_argument(
        "--json", type=Path, help="where to write the results (default benchmarks/results/answers.json)"
    )
    args = parser.parse_args()
    data = json.loads((DATA / "quality.json").read_text())
    llm = LlamaCppLLM(seed=0)
    await llm.load()
    report: dict[str, Any] = {"seeds": args.seeds}
    chosen = [n for n in args.answers.split(",") if n]
    if chosen:
        report["answers"] = await answers(llm, chosen, args.seeds, data["questions"])
    chosen = [n for n in args.policies.split(",") if n]
    if chosen:
        report["policies"] = await policies(llm, chosen, args.seeds, data)
    print("results:", write_results("answers", report, args.json))


if __name__ == "__main__":
    asyncio.run(main())
