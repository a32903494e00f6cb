"""The ``voxlive`` command: help everywhere, the stages alone, the models, a conversation from a WAV file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import espeak
from conftest import Server
from voxlive.speech import files
from voxlive.speech.assets import QWEN_GGUF, SMART_TURN

COMMANDS = ["serve", "talk", "say", "transcribe", "models", "bench"]


def voxlive(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxlive", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    run = voxlive(command, "--help")
    assert run.returncode == 0 and f"usage: voxlive {command}" in run.stdout


@pytest.mark.models
def test_say_then_transcribe(tmp_path: Path) -> None:
    out = tmp_path / "hello.flac"
    said = voxlive("say", "Good morning, everyone.", "--out", str(out))
    assert said.returncode == 0 and out.stat().st_size > 1000
    heard = voxlive("transcribe", str(out))
    assert heard.returncode == 0 and "good morning" in heard.stdout.lower()
    assert voxlive("say", "Hi", "--voice", "nobody", "--out", str(out)).returncode == 2


@pytest.mark.models  # reads every model file
def test_models_lists_sizes_and_checksums() -> None:
    run = voxlive("models")
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert len(lines) == 7 and all("sha256" in line for line in lines)
    assert QWEN_GGUF.sha256 in run.stdout and SMART_TURN.sha256 in run.stdout


def test_bench_refuses_an_unknown_benchmark() -> None:
    run = voxlive("bench", "nonsense")
    assert run.returncode == 2 and "Unknown benchmark" in run.stderr


async def test_talk_says_a_wav_and_writes_the_reply(server: Server, whisper, tmp_path: Path) -> None:
    question = tmp_path / "question.wav"
    question.write_bytes(files.write(espeak("What is the capital of France?", 16_000), 16_000, "wav"))
    reply = tmp_path / "reply.wav"
    run = await asyncio.to_thread(
        voxlive, "talk", "--url", server.http, "--wav", str(question), "--out", str(reply), timeout=180
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "you:" in run.stdout and "capital" in run.stdout.lower()
    assert "agent:" in run.stdout and "ms voice-to-voice" in run.stdout
    audio = files.read(reply.read_bytes())
    heard = await whisper.transcribe(audio)
    assert "paris" in heard.text.lower(), heard.text


def test_talk_needs_a_source() -> None:
    run = voxlive("talk")
    assert run.returncode == 2 and "--wav FILE or --mic" in run.stderr
