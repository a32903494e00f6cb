"""What Ray Serve costs a turn: the same turns through ``voxlive serve`` (one process) and through
``voxlive serve --ray`` on a local cluster of its own (a head and a worker node; one ``Gateway`` replica, one
replica per stage), measured in the same run.

A turn is a typed question answered in speech (the LLM and the TTS, through the stage deployments on Ray): the
time from ``response.create`` to the first audio and to ``response.done``. Prints p50/p95 of each side and the
overhead (Ray minus one process), and writes ``benchmarks/results/ray_overhead.json``.

Run: ``.venv/bin/python benchmarks/ray_overhead.py [--turns 20]`` (needs the ray extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import percentile_table, ray_cluster, server, summary, write_results

QUESTIONS = ("What is the capital of France?", "Name a fruit.", "What colour is the sky?", "Say hello.")

CONFIG = """
[session]
temperature = 0.0
[llm]
max_output_tokens = 40
[cluster]
gateway_replicas = 1
max_stage_replicas = 1
"""
"""The same answers on both sides; on Ray one gateway, so that the server is whole once it answers."""


async def turns(url: str, count: int) -> dict[str, list[float]]:
    """``count`` turns on one session: milliseconds to the first audio and to ``response.done``, per turn."""
    first: list[float] = []
    whole: list[float] = []
    async with websockets.connect(f"{url}/voice-live/realtime?api-version=2025-10-01&model=m", max_size=None) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {"turn_detection": None}}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        for turn in range(count):
            text = QUESTIONS[turn % len(QUESTIONS)]
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            began = time.perf_counter()
            await ws.send(json.dumps({"type": "response.create"}))
            heard = False
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "response.audio.delta" and not heard:
                    heard = True
                    first.append((time.perf_counter() - began) * 1000)
                if event["type"] == "response.done":
                    assert event["response"]["status"] == "completed", event["response"]
                    whole.append((time.perf_counter() - began) * 1000)
                    break
    return {"first audio": first, "turn": whole}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20, help="turns on each side (after one to warm up)")
    args = parser.parse_args()
    with server(CONFIG) as url:
        await turns(url, 1)
        single = await turns(url, args.turns)
    with ray_cluster(workers=1) as address, server(CONFIG, args=("--ray", address)) as url:
        await turns(url, 1)
        on_ray = await turns(url, args.turns)
    rows = {f"one process: {k}": v for k, v in single.items()} | {f"ray: {k}": v for k, v in on_ray.items()}
    print(percentile_table(f"Ray Serve overhead ({args.turns} spoken answers to typed questions)", rows))
    overhead = {
        measure: {
            "p50": summary(on_ray[measure])["p50"] - summary(single[measure])["p50"],
            "p95": summary(on_ray[measure])["p95"] - summary(single[measure])["p95"],
        }
        for measure in single
    }
    for measure, extra in overhead.items():
        print(f"overhead, {measure}: p50 {extra['p50']:+.1f} ms, p95 {extra['p95']:+.1f} ms")
    results = {
        "turns": args.turns,
        "one_process": {k: summary(v) for k, v in single.items()},
        "ray": {k: summary(v) for k, v in on_ray.items()},
        "overhead_ms": overhead,
    }
    print("results:", write_results("ray_overhead", results))


if __name__ == "__main__":
    asyncio.run(main())
