"""What every benchmark shares: a real server on loopback, spoken test audio, p50/p95 tables, JSON results."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@contextlib.contextmanager
def server(config: str = "", source: str | None = None) -> Iterator[str]:
    """``voxlive serve`` on a free loopback port; yields its ``ws://`` base URL once healthy. ``source``: the
    checkout whose ``src/`` to run instead of the installed package (an earlier version, measured in the same run)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(config)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voxlive",
            "serve",
            "--port",
            str(port),
            "--config",
            file.name,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(source) / "src")} if source else None,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as answer:
                if answer.status == 200:
                    break
            time.sleep(0.3)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)
        os.unlink(file.name)


def espeak(text: str, rate: int, voice: str = "en-us", words_per_minute: int = 150) -> np.ndarray:
    """Speech from Debian's espeak-ng, int16 at ``rate``."""
    from voxlive.speech.audio import resample

    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", out.name, text], check=True)
        with wave.open(out.name) as wav:
            audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.int16)
            return resample(audio, wav.getframerate(), rate)


def percentile_table(title: str, rows: dict[str, list[float]], unit: str = "ms") -> str:
    """A table with one line per measure: count, p50, p95, mean."""
    lines = [title, f"{'measure':<34} {'n':>4} {'p50':>9} {'p95':>9} {'mean':>9}  ({unit})"]
    for name, values in rows.items():
        if values:
            p50, p95 = np.percentile(values, [50, 95])
            lines.append(f"{name:<34} {len(values):>4} {p50:>9.1f} {p95:>9.1f} {np.mean(values):>9.1f}")
        else:
            lines.append(f"{name:<34} {0:>4} {'-':>9} {'-':>9} {'-':>9}")
    return "\n".join(lines)


def summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {"n": len(values), "p50": float(p50), "p95": float(p95), "mean": float(np.mean(values))}


def write_results(name: str, data: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": {"cpus": os.cpu_count()}, **data}, indent=2, default=float))
    return path
