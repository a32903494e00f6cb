"""The web page in a real browser (Debian's Chromium driven by Playwright) with a fake microphone playing a WAV."""

from __future__ import annotations

import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from conftest import Server, spoken
from voxlive.speech import files

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
STATIC = Path(__file__).parent.parent / "src" / "voxlive" / "server" / "static"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


async def launch(playwright, *extra: str):
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra])


async def test_talking_to_the_page_with_a_fake_microphone(server: Server, piper, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    rate = 48_000
    question = await spoken(piper, "What is the capital of France?", rate=rate, lead_ms=1500, tail_ms=0)
    audio = np.concatenate([question, np.zeros(rate * 10, np.int16)])
    wav = tmp_path / "question.wav"
    wav.write_bytes(files.write(audio, rate, "wav"))
    async with async_playwright() as playwright:
        browser = await launch(
            playwright,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop",
        )
        page = await browser.new_page()
        await page.goto(f"{server.http}/")
        await page.click("#start")
        try:
            await page.wait_for_function(
                "[...document.querySelectorAll('.line.user:not(.partial)')]"
                ".some(e => e.textContent.toLowerCase().includes('capital'))",
                timeout=60_000,
            )
            await page.wait_for_function("window.voxlive.latencies.length > 0", timeout=60_000)
            await page.wait_for_function("window.voxlive.framesPlayed > 24000", timeout=60_000)
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "web_page.png"), full_page=True)
        stats = await page.evaluate("window.voxlive")
        agent = await page.text_content(".line.agent")
        latency = await page.text_content("#latency")
        said = await page.eval_on_selector_all(".line.user:not(.partial), .line.agent", "es => es.map(e => e.id)")
        # reloaded, the page resumes the conversation: what was said is shown again
        await page.reload()
        await page.click("#start")
        await page.wait_for_function(f"{said!r}.every(id => document.getElementById(id)?.textContent)", timeout=30_000)
        restored = await page.text_content(f"#{said[-1]}")
        await browser.close()
    assert stats["errors"] == []
    assert "paris" in (agent or "").lower() and "paris" in (restored or "").lower()
    assert stats["visemes"] > 0 and stats["mouthMoves"] > 3  # the mouth followed the visemes
    assert re.fullmatch(r"voice-to-voice: \d+ ms", latency or "") and 0 < stats["latencies"][0] < 10_000


@pytest.fixture
def page_without_server(tmp_path: Path) -> str:
    """The page's files served by a plain HTTP server: no realtime endpoint behind it."""
    (tmp_path / "index.html").write_bytes((STATIC / "index.html").read_bytes())
    (tmp_path / "static").symlink_to(STATIC)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}/"
    http.shutdown()


async def test_the_page_says_in_words_what_went_wrong(page_without_server: str, server: Server) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch(playwright, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
        page = await browser.new_page()
        await page.goto(page_without_server)
        await page.click("#start")
        await page.wait_for_selector("#error:not([hidden])", timeout=20_000)
        assert "cannot be reached" in (await page.text_content("#error") or "")
        await browser.close()

        browser = await launch(playwright)  # no fake UI: the microphone request is refused
        context = await browser.new_context(permissions=[])
        page = await context.new_page()
        await page.goto(f"{server.http}/")
        await page.click("#start")
        await page.wait_for_selector("#error:not([hidden])", timeout=20_000)
        assert "microphone" in (await page.text_content("#error") or "").lower()
        await browser.close()
