"""The web console in a real browser (Debian's Chromium driven by Playwright) with a fake microphone playing a WAV.

One browser per microphone recording, shared by the module; each test has its own browser context (its own
sessionStorage and microphone). Waits are on the page's state (``window.voxlive``), never on the clock."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.common import spoken
from conftest import Server, start_server, stop_server
from voxlive.speech import files

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "test-artifacts"
STATIC = ROOT / "src" / "voxlive" / "server" / "static"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
RATE = 48_000
LONG_ANSWERS = "You are a helpful voice assistant. Answer every question in four or five full sentences."
STORYTELLER = "You are a storyteller. Whatever you are asked, tell a long story of at least ten sentences."


async def launch(playwright, *extra: str):
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra])


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def playwright() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as running:
        yield running


@pytest.fixture(scope="module")
async def recordings(piper, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fake microphone's recordings: one question then silence; the same question every ~5 s (looped, for
    push to talk: the test holds the button across one); a request for a story every ~9 s (looped: each one
    comes while the story before it is being told)."""
    folder = tmp_path_factory.mktemp("wavs")
    france = await spoken(piper, "What is the capital of France?", rate=RATE, lead_ms=300, tail_ms=0)
    dragon = await spoken(piper, "Tell me a long story about a dragon.", rate=RATE, lead_ms=300, tail_ms=0)
    silence = partial(np.zeros, dtype=np.int16)
    clips = {
        "question": np.concatenate([silence(RATE * 12 // 10), france, silence(RATE * 10)]),
        "looped question": np.concatenate([france, silence(RATE * 25 // 10)]),
        "story requests": np.concatenate([dragon, silence(RATE * 6)]),
    }
    paths = {}
    for name, audio in clips.items():
        paths[name] = folder / f"{name.replace(' ', '-')}.wav"
        paths[name].write_bytes(files.write(audio, RATE, "wav"))
    return paths


@pytest.fixture(scope="module")
async def browsers(playwright, recordings: dict[str, Path]) -> AsyncIterator[Any]:
    """``await browsers(name)``: a Chromium whose fake microphone plays that recording (launched once)."""
    launched: dict[str, Any] = {}

    async def browser(name: str) -> Any:
        if name not in launched:
            loop = "" if name.startswith(("looped", "story")) else "%noloop"
            launched[name] = await launch(
                playwright, *FAKE_MIC, f"--use-file-for-fake-audio-capture={recordings[name]}{loop}"
            )
        return launched[name]

    yield browser
    for running in launched.values():
        await running.close()


class Page:
    """A page of the console in its own browser context, with what it logged."""

    def __init__(self, page: Any, context: Any) -> None:
        self.page = page
        self.context = context
        self.problems: list[str] = []
        self.sockets: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("websocket", lambda socket: self.sockets.append(socket.url))
        page.on("request", lambda request: self.requests.append((request.url, request.headers)))

    async def set_key(self, key: str) -> None:
        await self.page.evaluate("document.querySelector('#settings').open = true")
        await self.page.fill("#key", key)

    async def stats(self) -> dict[str, Any]:
        return await self.page.evaluate("JSON.parse(JSON.stringify(window.voxlive))")

    async def until(self, condition: str, timeout: float = 60) -> None:
        """Wait for ``condition`` on the page; if it never holds, fail with what the page had sent, received
        and shown by then."""
        from playwright.async_api import TimeoutError

        try:
            await self.page.wait_for_function(condition, timeout=timeout * 1000, polling=50)
        except TimeoutError:
            stats = await self.stats()
            seen = {key: stats.get(key) for key in ("state", "sent", "received", "skippedHolds", "errors", "input")}
            raise AssertionError(f"not within {timeout} s: {condition}\n{json.dumps(seen)}\n"
                                 f"hint: {await self.page.text_content('#hint')!r}") from None  # fmt: skip

    async def connect(
        self, mode: str = "hands-free", instructions: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        if instructions is not None or extra is not None:
            await self.page.click("#settings summary")
            if instructions is not None:
                await self.page.fill("#instructions", instructions)
            if extra is not None:
                await self.page.fill("#extra", json.dumps(extra))
            await self.page.click("#settings summary")
        if mode != "hands-free":
            await self.page.check(f"input[value={mode}]")
        await self.page.click("#connect")
        await self.until("window.voxlive.state === 'listening' && window.voxlive.received['session.updated'] >= 1")

    async def quiet_for(self, ms: int) -> None:
        """Wait until the microphone has given ``ms`` of silence after some speech."""
        await self.until(f"(i => i.lastLoudMs >= 0 && i.capturedMs - i.lastLoudMs >= {ms})(window.voxlive.input)")

    async def hold_across_a_question(self, keyboard: bool = False, quiet_after_ms: int = 900) -> None:
        """Hold the talk button (the mouse, or Space on the focused button) from a pause in the looped
        question until the next question has been said and ``quiet_after_ms`` of silence followed it."""
        segments = (await self.stats())["input"]["segments"]
        if keyboard:
            await self.page.focus("#talk")
            await self.page.keyboard.down("Space")
        else:
            await self.page.hover("#talk")
            await self.page.mouse.down()
        await self.until(f"window.voxlive.input.segments > {segments}")
        await self.quiet_for(quiet_after_ms)
        if keyboard:
            await self.page.keyboard.up("Space")
        else:
            await self.page.mouse.up()

    async def replies_done(self) -> int:
        return int((await self.stats())["received"].get("response.done", 0))

    async def error(self) -> str | None:
        if await self.page.is_hidden("#error"):
            return None
        return await self.page.text_content("#error-text")


@pytest.fixture
async def open_page(browsers) -> AsyncIterator[Any]:
    """``await open_page(recording, url)``: a new page in a new context of that recording's browser."""
    opened: list[Page] = []

    async def opener(recording: str, url: str) -> Page:
        browser = await browsers(recording)
        context = await browser.new_context()
        page = Page(await context.new_page(), context)
        await page.page.goto(url)
        opened.append(page)
        return page

    yield opener
    for page in opened:
        await page.context.close()
    for page in opened:
        assert page.problems == [], page.problems


class Proxy:
    """A TCP proxy on loopback in front of a server: ``cut()`` drops every connection (a network failure);
    with ``host`` set, it rewrites the ``Host`` header of the requests to it (a reverse proxy that does not
    keep the host, so the server sees a page from another origin)."""

    def __init__(self, target: int, host: str | None = None) -> None:
        self.target = target
        self.host = host
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Proxy:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self.server is not None
        self.server.close()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers += [writer, upstream_writer]
        rewrite = (f"Host: 127.0.0.1:{self.port}\r\n".encode(), f"Host: {self.host}\r\n".encode())

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, upstream: bool) -> None:
            try:
                while data := await source.read(65536):
                    if upstream and self.host:
                        data = data.replace(*rewrite)
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer, True), pipe(upstream_reader, writer, False))

    def cut(self) -> None:
        for writer in self.writers:
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        self.writers.clear()


# --- talking ------------------------------------------------------------------------------------------------------


async def test_talking_to_the_page_with_a_fake_microphone(server: Server, open_page) -> None:
    page = await open_page("question", f"{server.http}/")
    await page.connect()
    await page.until(
        "[...document.querySelectorAll('.line.user:not(.partial)')]"
        ".some(e => e.textContent.toLowerCase().includes('capital'))"
    )
    await page.until("window.voxlive.latencies.length > 0 && window.voxlive.framesPlayed > 24000")
    await page.until("window.voxlive.received['response.done'] >= 1")
    # each turn's stage timings, as the server measured them, under the reply
    await page.until("document.querySelector('.line.agent + .timings')?.textContent.includes('voice-to-voice')")
    try:
        stats = await page.stats()
        agent = await page.page.text_content(".line.agent .words")
        latency = await page.page.text_content("#latency")
        timings = await page.page.text_content(".timings")
        microphones = await page.page.eval_on_selector_all("#mic option", "os => os.map(o => o.textContent)")
        said = await page.page.eval_on_selector_all(".line.user.final, .line.agent", "es => es.map(e => e.id)")
        # the event log: every event, a run of one type as one entry, audio elided, a filter
        await page.page.click("#events summary")
        audio_entry = ".event.server[data-type='response.audio.delta'] pre"
        await page.page.click(".event.server[data-type='response.audio.delta'] summary")
        # the entry's text is written by the details' toggle event, which comes after the click
        await page.until(f"document.querySelector({audio_entry!r}).textContent.length > 0")
        audio_event = await page.page.text_content(audio_entry)
        types = await page.page.eval_on_selector_all(".event", "es => es.map(e => e.dataset.type)")
        await page.page.fill("#event-filter", "session")
        shown = await page.page.eval_on_selector_all(".event:not([hidden])", "es => es.map(e => e.dataset.type)")
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.page.screenshot(path=str(ARTIFACTS / "web_page.png"), full_page=True)
    # reloaded, the page resumes the conversation: what was said is shown again
    await page.page.reload()
    await page.page.click("#connect")
    await page.until(f"{said!r}.every(id => document.getElementById(id)?.textContent)", timeout=30)
    restored = await page.page.text_content(f"#{said[-1]}")

    assert stats["errors"] == []
    assert "paris" in (agent or "").lower() and "paris" in (restored or "").lower()
    assert stats["visemes"] > 0 and stats["mouthMoves"] > 3  # the mouth followed the visemes
    assert re.fullmatch(r"voice-to-voice: \d+ ms", latency or "") and 0 < stats["latencies"][0] < 10_000
    assert re.search(r"end of turn \d+ ms", timings or "") and "LLM first token" in (timings or "")
    assert {"listening", "thinking", "speaking"} <= set(stats["states"])
    assert stats["peak"]["input"] > 0.01 and stats["peak"]["output"] > 0.01  # the level meters moved
    # every reply started with at least 100 ms of it buffered (it is longer than that)
    assert stats["prebuffered"] and min(stats["prebuffered"].values()) >= 100
    assert microphones and all(microphones)
    assert "session.created" in types and "input_audio_buffer.append" in types and len(types) <= 500
    assert len(types) < sum(stats["received"].values()) + sum(stats["sent"].values())  # a run is one entry
    assert "base64 audio" in (audio_event or "") and len(audio_event or "") < 1000
    assert shown and all("session" in t for t in shown)


# --- interrupting -------------------------------------------------------------------------------------------------


async def test_pressing_talk_during_a_reply_cancels_it_and_the_new_question_is_answered(
    server: Server, open_page
) -> None:
    page = await open_page("looped question", f"{server.http}/")
    await page.connect("push-to-talk", LONG_ANSWERS, {"max_response_output_tokens": 160})  # no reply goes on and on
    await page.page.fill("#message", "Tell me a long story about a dragon.")
    await page.page.press("#message", "Enter")
    # the reply is heard while the rest of it is still being made (a short one could be whole before it is heard)
    in_progress = "(r => r['response.created'] > (r['response.done'] || 0))(window.voxlive.received)"
    await page.until(f"window.voxlive.state === 'speaking' && {in_progress}")
    first = (await page.stats())["truncates"]
    assert first == []
    # pressing talk while the agent speaks: the reply is cancelled and stops at once, cut at what was heard
    await page.hold_across_a_question()
    await page.until("window.voxlive.received['response.done'] >= 2", timeout=90)
    await page.until(
        "document.querySelectorAll('.line.agent').length >= 2 && "
        "[...document.querySelectorAll('.line.agent')].pop().querySelector('.words').textContent.length > 10"
    )
    await page.until("document.querySelector('.line.agent.interrupted')")
    stats = await page.stats()
    assert stats["errors"] == [] and await page.error() is None
    assert stats["sent"].get("response.cancel") == 1
    [truncate] = stats["truncates"]
    cut = truncate["item"]
    assert truncate["audio_end_ms"] >= 0
    assert stats["openFor"].get(cut, 0) <= stats["cutAt"][cut]  # the mouth closed with the cut
    interrupted = await page.page.get_attribute(".line.agent.interrupted", "id")
    assert interrupted == f"a-{cut}"
    assert "interrupted" in (await page.page.text_content(".line.agent.interrupted") or "")
    answer = await page.page.eval_on_selector_all(".line.agent", "es => es.pop().textContent")
    assert "paris" in answer.lower()
    # the latency counts from the end of the speech, not from the release of the button
    await page.until("window.voxlive.latencies.length >= 1")  # the typed turn has none
    stats = await page.stats()
    turn = stats["turns"][-1]
    assert turn["endedMs"] - turn["speechEndMs"] >= 800
    assert stats["latencies"][-1] >= turn["endedMs"] - turn["speechEndMs"]


async def test_a_hands_free_barge_in_stops_the_reply_and_its_face_and_leaves_no_error(
    server: Server, open_page
) -> None:
    page = await open_page("story requests", f"{server.http}/")
    await page.connect("hands-free", STORYTELLER)
    await page.until("window.voxlive.bargeIns >= 1", timeout=120)
    starts = (await page.stats())["speechStarts"]
    await page.until("window.voxlive.state !== 'speaking'", timeout=5)
    await page.page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    mouth = await page.page.get_attribute("#mouth", "ry")
    # the next request (and whatever reply it gets) truncates nothing already cut or already heard
    await page.until(f"window.voxlive.speechStarts > {starts}", timeout=60)
    await page.until("window.voxlive.received['conversation.item.truncated'] >= 1")
    await page.until(f"window.voxlive.received['input_audio_buffer.speech_stopped'] >= {starts + 1}", timeout=60)
    stats = await page.stats()
    cut = [t["item"] for t in stats["truncates"]]
    assert cut and len(cut) == len(set(cut))  # no item truncated twice
    for item in cut:
        assert stats["openFor"].get(item, 0) <= stats["cutAt"][item]  # no mouth moves for a cut item
    assert mouth == "3"  # closed
    assert stats["errors"] == [] and await page.error() is None
    assert await page.page.query_selector(f"#a-{cut[0]}.interrupted")


# --- the microphone and the connection ----------------------------------------------------------------------------


async def rate_while_holding(page: Page) -> float:
    """Audio sent per second of the microphone's audio clock, over two seconds of a push-to-talk hold (a second
    capture graph left behind by a reconnection would double it)."""
    await page.page.hover("#talk")
    await page.page.mouse.down()
    await page.until("window.voxlive.sentAudioMs > 0 && document.querySelector('#talk.held')")
    before = await page.stats()
    await page.until(f"window.voxlive.audioTime >= {before['audioTime'] + 2}")
    after = await page.stats()
    await page.page.mouse.up()
    return (after["sentAudioMs"] - before["sentAudioMs"]) / 1000 / (after["audioTime"] - before["audioTime"])


async def test_one_microphone_for_the_page_and_a_dropped_connection_resumes(server: Server, open_page) -> None:
    async with Proxy(server.port) as proxy:
        page = await open_page("looped question", f"{proxy.http}/")
        for _ in range(3):  # connect, disconnect, connect, ...
            await page.connect("push-to-talk")
            await page.page.click("#connect")
            await page.until("window.voxlive.state === 'disconnected'")
            assert set((await page.stats())["trackStates"]) == {"ended"}  # the microphone is released
        await page.connect("push-to-talk")
        assert 0.8 < await rate_while_holding(page) < 1.2
        await page.page.click("#settings summary")
        options = await page.page.eval_on_selector_all("#mic option", "os => os.map(o => o.value)")
        current = await page.page.input_value("#mic")
        await page.page.select_option("#mic", next(o for o in options if o != current))
        await page.until("window.voxlive.microphonesOpened === 5")
        assert 0.8 < await rate_while_holding(page) < 1.2
        stats = await page.stats()
        assert stats["audioContexts"] == 1 and stats["captureNodes"] == 1
        assert stats["trackStates"] == ["ended"] * 4 + ["live"]

        await page.quiet_for(300)
        await page.hold_across_a_question()
        await page.until("window.voxlive.latencies.length >= 1 && window.voxlive.received['response.done'] >= 1")
        lines = await page.page.eval_on_selector_all(".line", "es => es.map(e => e.id)")
        before = await page.stats()
        proxy.cut()  # the network drops
        await page.until("window.voxlive.state === 'reconnecting'")
        assert await page.page.text_content("#latency") == ""
        resumed = f"window.voxlive.state === 'listening' && window.voxlive.sessions > {before['sessions']}"
        await page.until(resumed, timeout=30)
        created = before["received"]["conversation.item.created"]
        # the conversation came back, each line once
        await page.until(f"window.voxlive.received['conversation.item.created'] > {created}")
        assert await page.page.eval_on_selector_all(".line", "es => es.map(e => e.id)") == lines
        assert await page.page.text_content("#latency") == ""
        await page.quiet_for(300)
        await page.hold_across_a_question()
        await page.until(f"window.voxlive.latencies.length > {len(before['latencies'])}", timeout=60)
        agents = len([line for line in lines if line.startswith("a-")])
        await page.until(f"document.querySelectorAll('.line.agent').length > {agents}")
        stats = await page.stats()
        assert stats["errors"] == [] and stats["audioContexts"] == 1
        assert re.fullmatch(r"voice-to-voice: \d+ ms", await page.page.text_content("#latency") or "")
        assert "conversation-id=" in page.sockets[-1]


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("keyed"), '[server]\napi_keys = ["page-key"]\nmax_sessions = 1\n')
    yield running
    stop_server(running)


async def test_a_server_with_api_keys_and_its_refusals_said_in_words(keyed_server: Server, open_page) -> None:
    page = await open_page("looped question", f"{keyed_server.http}/")
    history = await page.page.evaluate("history.length")
    await page.page.check("input[value=push-to-talk]")
    await page.page.click("#connect")
    await page.until("!document.querySelector('#error').hidden && window.voxlive.state === 'disconnected'")
    assert "needs an API key" in (await page.error() or "")
    assert await page.page.evaluate("document.activeElement.id") == "key"
    await page.page.fill("#key", "wrong")
    await page.page.click("#connect")
    await page.until("document.querySelector('#error-text').textContent.includes('refused')")
    assert "key was refused" in (await page.error() or "")
    await page.page.fill("#key", "page-key")
    await page.page.click("#connect")
    await page.until("window.voxlive.state === 'listening'")
    assert await page.error() is None  # the message went with the success
    assert "page-key" not in page.page.url and await page.page.evaluate("history.length") == history
    assert await page.page.evaluate("sessionStorage.getItem('voxlive.key')") == "page-key"
    assert "api-key=page-key" in page.sockets[-1]
    probes = [headers for url, headers in page.requests if "/realtime/admission" in url]
    assert probes and probes[-1].get("api-key") == "wrong"

    # the only session is taken: a second page hears that the server is full
    second = await open_page("looped question", f"{keyed_server.http}/")
    await second.page.check("input[value=push-to-talk]")
    await second.set_key("page-key")
    await second.page.click("#connect")
    await second.until("!document.querySelector('#error').hidden")
    assert "server is full" in (await second.error() or "")
    await second.page.click("#connect")  # gives up

    # a reverse proxy that does not pass the host on: the page's origin is not the server's
    async with Proxy(keyed_server.port, host=f"127.0.0.1:{keyed_server.port}") as proxy:
        third = await open_page("looped question", f"{proxy.http}/")
        await third.page.check("input[value=push-to-talk]")
        await third.set_key("page-key")
        await third.page.click("#connect")
        await third.until("!document.querySelector('#error').hidden")
        message = await third.error() or ""
        assert f"does not accept pages from {proxy.http}" in message and "allowed_origins" in message


# --- push to talk, messages and settings --------------------------------------------------------------------------


def contrast(foreground: list[float], background: list[float]) -> float:
    def luminance(rgb: list[float]) -> float:
        channels = [c / 255 for c in rgb[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


COLORS = """sel => {
  const probe = document.createElement('p');
  probe.className = 'line user partial';
  probe.innerHTML = '<span class="who">you: </span><span class="words">partial words</span>';
  document.querySelector('#transcript').append(probe);
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const words = getComputedStyle(probe.querySelector('.words')).color;
  const background = getComputedStyle(document.querySelector('.conversation')).backgroundColor;
  probe.remove();
  return [rgb(words), rgb(background)];
}"""


async def test_push_to_talk_from_the_keyboard_skips_silent_holds_and_messages_clear(server: Server, open_page) -> None:
    page = await open_page("looped question", f"{server.http}/")
    await page.connect("push-to-talk")
    # a hold in silence (Enter, on the focused button) commits nothing and says so
    await page.quiet_for(450)
    await page.page.focus("#talk")
    await page.page.keyboard.down("Enter")
    await page.until("document.querySelector('#talk.held')")
    captured = (await page.stats())["input"]["capturedMs"]
    await page.until(f"window.voxlive.input.capturedMs > {captured + 500}")
    await page.page.keyboard.up("Enter")
    await page.until("window.voxlive.skippedHolds === 1")
    assert "nothing was heard" in (await page.page.text_content("#hint") or "").lower()
    # a question held with Space is answered
    await page.quiet_for(300)
    await page.hold_across_a_question(keyboard=True)
    await page.until("window.voxlive.received['response.done'] >= 1")
    stats = await page.stats()
    assert stats["sent"].get("input_audio_buffer.commit") == 1 and stats["skippedHolds"] == 1
    assert "paris" in (await page.page.text_content(".line.agent") or "").lower()

    # a refused setting shows a message that goes once the setting is put right, or when dismissed
    await page.page.click("#settings summary")
    await page.page.fill("#extra", '{"voice": "no-such-voice"}')
    await page.page.click("#apply")
    await page.until("!document.querySelector('#error').hidden")
    assert "Unknown voice" in (await page.error() or "")
    await page.page.fill("#extra", "")
    await page.page.click("#apply")
    await page.until("document.querySelector('#error').hidden")
    await page.page.fill("#extra", "{not json")
    await page.page.click("#apply")
    await page.until("!document.querySelector('#error').hidden")
    assert "not JSON" in (await page.error() or "")
    await page.page.click("#error-dismiss")
    await page.until("document.querySelector('#error').hidden")
    await page.page.fill("#extra", "")

    # the voice picker is filled from GET /voices where the server has it, else the voice is typed
    try:
        with urllib.request.urlopen(f"{server.http}/voices", timeout=10) as answer:
            voices = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        assert error.code == 404
        voices = None
    tag = await page.page.evaluate("document.querySelector('#voice').tagName")
    if voices is None:
        assert tag == "INPUT" and await page.page.input_value("#voice") == "en_US-joe-medium"
    else:
        names = await page.page.eval_on_selector_all("#voice option", "os => os.map(o => o.value)")
        assert tag == "SELECT" and names == [v["name"] for v in voices["voices"]]
        assert await page.page.input_value("#voice") == voices["default"]

    # partial words are readable (WCAG AA), and the page has an icon
    foreground, background = await page.page.evaluate(COLORS)
    assert contrast(foreground, background) >= 4.5
    icon = await page.page.get_attribute("link[rel=icon]", "href")
    answer = await page.page.request.get(f"{server.http}{icon}")
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    assert stats["errors"] == []


async def test_mute_sends_no_audio_until_unmuted(server: Server, open_page) -> None:
    page = await open_page("looped question", f"{server.http}/")
    await page.connect("hands-free")
    await page.until("window.voxlive.sentAudioMs > 500")
    await page.page.click("#mute")
    assert await page.page.get_attribute("#mute", "aria-pressed") == "true"
    sent = (await page.stats())["sentAudioMs"]
    await page.page.wait_for_timeout(1500)  # whatever the machine's speed, nothing is sent while muted
    assert (await page.stats())["sentAudioMs"] == sent
    assert await page.page.evaluate("document.querySelector('#level-in').value") == 0
    await page.page.click("#mute")
    assert await page.page.get_attribute("#mute", "aria-pressed") == "false"
    await page.until(f"window.voxlive.sentAudioMs > {sent + 500}")


async def test_a_typed_message_and_an_mcp_call_approved_on_the_page(server: Server, open_page) -> None:
    page = await open_page("looped question", f"{server.http}/")
    await page.connect("push-to-talk")
    tool = {"type": "mcp", "server_label": "sums", "server_url": "stdio:sums", "require_approval": "always"}
    extra = {"tools": [tool], "tool_choice": {"type": "mcp", "server_label": "sums", "name": "add"}}
    await page.page.click("#settings summary")
    await page.page.fill("#extra", json.dumps(extra))
    await page.page.click("#apply")
    await page.until("window.voxlive.received['mcp_list_tools.completed'] >= 1")
    await page.page.fill("#message", "What is 2 plus 3?")
    await page.page.press("#message", "Enter")
    await page.until("document.querySelector('.tool.mcp-approval-request button.approve')")
    request = await page.page.text_content(".tool.mcp-approval-request")
    await page.page.click(".tool.mcp-approval-request button.approve")
    await page.until("document.querySelector('.tool.mcp-call .tool-result')?.textContent.includes('5')")
    await page.until("window.voxlive.received['response.done'] >= 1")
    call = await page.page.text_content(".tool.mcp-call")
    stats = await page.stats()
    assert "What is 2 plus 3?" in (await page.page.text_content(".line.user") or "")
    assert "sums · add" in (request or "") and '"a"' in (request or "")
    assert "sums · add" in (call or "") and "→ 5" in (call or "")
    assert stats["sent"]["conversation.item.create"] == 2 and stats["errors"] == []
    approval = await page.page.eval_on_selector_all(".tool.mcp-approval-response", "es => es.map(e => e.textContent)")
    assert approval and approval[0].startswith("Approved")


async def test_no_serious_accessibility_violations_idle_talking_and_in_settings(server: Server, open_page) -> None:
    assert AXE.exists(), "axe-core is missing: run scripts/setup.sh (npm ci)"
    page = await open_page("looped question", f"{server.http}/")

    async def violations(state: str) -> list[str]:
        await page.page.add_script_tag(path=str(AXE))
        found = await page.page.evaluate("axe.run(document).then(r => r.violations)")
        return [
            f"{state}: {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in found
            if v["impact"] in ("serious", "critical")
        ]

    problems = await violations("idle")
    await page.connect("push-to-talk", LONG_ANSWERS)
    await page.page.fill("#message", "Tell me about Paris.")
    await page.page.click("#send")
    await page.until("window.voxlive.state === 'speaking'")
    problems += await violations("talking")
    await page.page.click("#settings summary")
    await page.page.click("#events summary")
    problems += await violations("settings")
    assert problems == []


# --- what went wrong ----------------------------------------------------------------------------------------------


@pytest.fixture
def page_without_server(tmp_path: Path) -> Iterator[str]:
    """The page's files served by a plain HTTP server: no realtime endpoint behind it."""
    (tmp_path / "index.html").write_bytes((STATIC / "index.html").read_bytes())
    (tmp_path / "static").symlink_to(STATIC)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}/"
    http.shutdown()


async def test_the_page_says_in_words_what_went_wrong(page_without_server: str, server: Server, playwright) -> None:
    browser = await launch(playwright, *FAKE_MIC)
    page = await browser.new_page()
    await page.goto(page_without_server)
    await page.click("#connect")
    await page.wait_for_selector("#error:not([hidden])", timeout=20_000)
    assert "cannot be reached" in (await page.text_content("#error") or "")
    await browser.close()

    browser = await launch(playwright)  # no fake UI: the microphone request is refused
    context = await browser.new_context(permissions=[])
    page = await context.new_page()
    await page.goto(f"{server.http}/")
    await page.click("#connect")
    await page.wait_for_selector("#error:not([hidden])", timeout=20_000)
    assert "microphone" in (await page.text_content("#error") or "").lower()
    await browser.close()
