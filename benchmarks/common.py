"""What every benchmark shares: a real server on loopback, spoken test audio, p50/p95 tables, JSON results.

The tests speak with the same helpers (``espeak``, ``piper_speech``, ``spoken``, ``silence``), imported as
``benchmarks.common`` (pytest puts the repository's root on the import path: ``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voxlive.speech.llama_server import free_port

if TYPE_CHECKING:
    from voxlive.speech.tts import PiperTTS

RESULTS = Path(__file__).parent / "results"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def answering(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> bool:
    """Whether ``url`` answers 200 before ``process`` exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url) as answer:
            if answer.status == 200:
                return True
        time.sleep(0.3)
    return False


def server_setting(config: str, line: str) -> str:
    """A server's TOML settings with ``line`` (``max_sessions = 20``) added to their ``[server]`` table."""
    table = re.compile(r"^\[server\][ \t]*$", re.MULTILINE)
    return table.sub(f"[server]\n{line}", config, count=1) if table.search(config) else f"[server]\n{line}\n{config}"


def without_load_limit(config: str) -> str:
    """A server's TOML settings, with ``[server] max_load`` above 1 unless they set it: a server measured or
    tested one session after another is never refused for the load it was just given."""
    return config if "max_load" in config else server_setting(config, "max_load = 2.0")


@contextlib.contextmanager
def server(config: str = "", source: str | None = None, args: tuple[str, ...] = ()) -> Iterator[str]:
    """``voxlive serve`` (with more command-line ``args``) on a free loopback port; yields its ``ws://`` base URL
    once healthy. ``source``: the checkout whose ``src/`` to run instead of the installed package (an earlier
    version, measured in the same run)."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(config if source else without_load_limit(config))  # an earlier version has no max_load
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
            *args,
        ],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(source) / "src")} if source else None,
    )
    try:
        answering(f"http://127.0.0.1:{port}/health", process)
        yield f"ws://127.0.0.1:{port}"
    finally:
        if process.poll() is not None:
            print(f"note: the server had exited (code {process.returncode})", file=sys.stderr)
        process.terminate()
        process.wait(timeout=20)
        os.unlink(file.name)


@contextlib.contextmanager
def ray_cluster(workers: int = 1) -> Iterator[str]:
    """A Ray cluster of its own on loopback (the ``ray`` extra): a head node and ``workers`` more, each a
    ``ray start --block`` in a process group of its own, whose workers import the voxlive under test; yields the
    head's address. Only these processes are stopped at the end (``ray stop`` would stop every Ray on the machine)."""
    import voxlive

    temp = Path(tempfile.mkdtemp(prefix="vxray-"))  # short: Ray's socket paths are kept under it
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(voxlive.__file__).parents[1]), "RAY_USAGE_STATS_ENABLED": "0"}
    common = [
        "--node-ip-address",
        "127.0.0.1",
        "--disable-usage-stats",
        "--block",
        "--object-store-memory",
        str(200 << 20),
    ]
    ray = str(Path(sys.executable).parent / "ray")
    head = [ray, "start", "--head", "--port", str(port), "--include-dashboard=false", "--temp-dir", str(temp)]
    nodes: list[subprocess.Popen[bytes]] = []
    log = (temp / "nodes.log").open("wb")
    try:
        nodes.append(subprocess.Popen([*head, *common], env=env, stdout=log, stderr=log, start_new_session=True))
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not (temp / "ray_current_cluster").exists():
            assert time.monotonic() < deadline and nodes[0].poll() is None, f"the Ray head did not start: {temp}"
            time.sleep(0.2)
        for _ in range(workers):
            worker = [ray, "start", "--address", address, *common]
            nodes.append(subprocess.Popen(worker, env=env, stdout=log, stderr=log, start_new_session=True))
        yield address
    finally:
        for node in reversed(nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
        for node in reversed(nodes):
            try:
                node.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.kill()
            with contextlib.suppress(ProcessLookupError):  # what the node started, in its process group
                os.killpg(node.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def espeak_wav(text: str, voice: str = "en-us", words_per_minute: int = 150) -> tuple[np.ndarray, int]:
    """``text`` spoken by Debian's espeak-ng, as it writes it: int16 samples and their rate."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", out.name, text], check=True)
        return read_wav(Path(out.name))


def espeak(text: str, rate: int = 24_000, voice: str = "en-us", words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng (another voice than the server's), int16 at ``rate``."""
    from voxlive.speech.audio import resample

    audio, source_rate = espeak_wav(text, voice, words_per_minute)
    return resample(audio, source_rate, rate)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A mono 16-bit WAV file: int16 samples and the sample rate."""
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.int16), wav.getframerate()


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """int16 ``audio`` as a mono 16-bit WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audio.astype("<i2").tobytes())


async def piper_speech(piper: PiperTTS, text: str, rate: int = 24_000, vary: bool = False) -> np.ndarray:
    """``text`` spoken by Piper (the server's own voice), int16 at ``rate``: the same audio every run, unless
    ``vary`` (the voice's own random variation)."""
    from voxlive.speech.audio import resample
    from voxlive.speech.prosody import Prosody

    speech = await piper.synthesize(text, prosody=Prosody() if vary else Prosody(variation=0))
    return resample(speech.audio, speech.sample_rate, rate)


async def spoken(piper: PiperTTS, text: str, rate: int = 24_000, lead_ms: int = 300, tail_ms: int = 1200) -> np.ndarray:
    """``text`` spoken by Piper (the same audio every run) with silence before and after, int16 at ``rate``."""
    audio = await piper_speech(piper, text, rate)
    return np.concatenate([silence(lead_ms, rate), audio, silence(tail_ms, rate)])


def silence(ms: int, rate: int = 24_000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, np.int16)


async def speech(piper: PiperTTS, text: str, voice: str) -> np.ndarray:
    """``text`` spoken by Piper (``voice`` "piper", no variation) or an espeak-ng voice, int16 at 16 kHz."""
    from voxlive.speech.audio import STAGE_RATE

    if voice != "piper":
        return espeak(text, STAGE_RATE, voice)
    return await piper_speech(piper, text, STAGE_RATE)


ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """``n`` (below a thousand) in English words; larger ones as digits."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10 - 2] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return str(n)


def normalized(text: str) -> list[str]:
    """Words to compare: lowercase, no punctuation, numbers spelt out, British and American spelling alike."""
    text = re.sub(
        r"\d+", lambda m: " " + number_words(int(m.group())) + " ", text.lower().replace("favourite", "favorite")
    )
    return re.findall(r"[a-z']+", text.replace("'s", " is").replace("\u2019", "'"))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference)."""
    ref, hyp = normalized(reference), normalized(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != heard))
    return row[-1], len(ref)


def pink_noise(length: int, seed: int) -> np.ndarray:
    """Pink (1/f) noise of unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(length))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, length)
    return noise / np.sqrt(np.mean(noise**2))


def with_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """int16 ``audio`` with pink noise mixed in at ``snr_db`` (the same noise for the same seed)."""
    signal = audio.astype(np.float64)
    level = np.sqrt(np.mean(signal**2)) / 10 ** (snr_db / 20)
    return np.clip(signal + pink_noise(len(signal), seed) * level, -32768, 32767).astype(np.int16)


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


def write_results(name: str, data: dict[str, object], path: Path | None = None) -> Path:
    """Write ``data`` (with the machine's cores) to ``path``, by default ``benchmarks/results/NAME.json``."""
    path = path or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": {"cpus": os.cpu_count()}, **data}, indent=2, default=float))
    return path
