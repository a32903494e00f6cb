"""(Re)make the screenshots of the web console in docs/screenshots/: idle, talking, settings, events, error.

Runs a local ``voxlive serve`` and Debian's Chromium (Playwright) with a fake microphone asking a question
(spoken by the project's Piper voice). Usage: ``.venv/bin/python scripts/screenshots.py``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
RATE = 48_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = folder / "voxlive.toml"
    config.write_text("")
    log = (folder / "server.log").open("wb")
    command = [sys.executable, "-m", "voxlive", "serve", "--port", str(port), "--config", str(config)]
    env = {**os.environ, "XDG_DATA_HOME": str(folder)}  # a conversation store of its own
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited; see {folder / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not become healthy")


async def question(path: Path) -> None:
    from voxlive.speech import files
    from voxlive.speech.audio import resample
    from voxlive.speech.prosody import Prosody
    from voxlive.speech.tts import PiperTTS

    tts = PiperTTS()
    await tts.load()
    speech = await tts.synthesize("What is the capital of France?", prosody=Prosody(variation=0))
    audio = resample(speech.audio, speech.sample_rate, RATE)
    silence = np.zeros(RATE, np.int16)
    path.write_bytes(files.write(np.concatenate([silence, audio, silence, silence, silence]), RATE, "wav"))


async def shoot(url: str, wav: Path) -> None:
    from playwright.async_api import async_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    flags = [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]  # fmt: skip
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(f"{url}/")
        await page.screenshot(path=str(OUT / "idle.png"))
        await page.click("#connect")
        await page.wait_for_function("window.voxlive.state === 'speaking'", timeout=90_000)
        await page.wait_for_function("window.voxlive.framesPlayed > 24000", timeout=30_000)
        await page.screenshot(path=str(OUT / "talking.png"))
        await page.wait_for_function("window.voxlive.received['response.done'] >= 1", timeout=60_000)
        await page.wait_for_function("document.querySelector('.timings')", timeout=10_000)
        await page.click("#connect")  # disconnect: the fake microphone would go on asking
        await page.click("#events summary")
        await page.click(".event.server[data-type='session.created'] summary")
        await page.screenshot(path=str(OUT / "events.png"))
        await page.click("#events summary")
        await page.click("#settings summary")
        await page.screenshot(path=str(OUT / "settings.png"))
        await page.fill("#extra", '{"voice": "no-such-voice"}')
        await page.click("#connect")
        await page.wait_for_selector("#error:not([hidden])", timeout=30_000)
        await page.click("#settings summary")
        await page.screenshot(path=str(OUT / "error.png"))
        await browser.close()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="voxlive-shots-") as tmp:
        folder = Path(tmp)
        wav = folder / "question.wav"
        await question(wav)
        process, url = serve(folder)
        try:
            await shoot(url, wav)
        finally:
            process.terminate()
            process.wait(timeout=30)
    for name in ("idle", "talking", "settings", "events", "error"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    asyncio.run(main())
