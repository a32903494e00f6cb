"""Protocol cost: client-side parse + dispatch against the official SDK, and the server's cost per append.

1. Records the server events of a real conversation (text and spoken answers with word timestamps,
   visemes and blendshapes) from a running ``voxlive serve``, then parses and dispatches the same stream
   with voxlive's client (``VOICELIVE.decode_server_event`` + ``SessionHandlers`` dispatch) and with the
   official ``azure-ai-voicelive`` SDK (``json.loads`` + ``ServerEvent._deserialize``, as its ``recv``
   does, + a dispatch on ``type``), in the same run. Prints events per second and the ratio.
2. Times the server's handling of one 100 ms ``input_audio_buffer.append`` (decode, resample, VAD,
   buffer) in-process, with and without server VAD.

Run: ``.venv/bin/python benchmarks/protocol.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from pathlib import Path

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import percentile_table, server, summary, write_results

from voxlive.client.handlers import EVENT_HANDLERS, SessionContext, SessionHandlers
from voxlive.protocol import ClientEventInputAudioBufferAppend, ResponseSession, ServerVad
from voxlive.protocol.dialects import VOICELIVE

ROUNDS = 5


async def record(url: str) -> list[str]:
    """The raw frames of a conversation: two spoken answers with timestamps and animation, one in text."""
    frames: list[str] = []
    async with websockets.connect(f"{url}/voice-live/realtime", max_size=None) as ws:
        frames.append(await ws.recv())
        session = {"output_audio_timestamp_types": ["word"], "animation": {"outputs": ["viseme_id", "blendshapes"]}}
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        for question, modalities in [("Tell me about the moon.", ["text", "audio"]), ("Name three fruits.", ["text"]),
                                     ("Why is the sea salty?", ["text", "audio"])]:  # fmt: skip
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create", "response": {"modalities": modalities}}))
            while True:
                frame = await ws.recv()
                frames.append(frame)
                if json.loads(frame)["type"] == "response.done":
                    break
    return [f if isinstance(f, str) else f.decode() for f in frames]


class Counting(SessionHandlers):
    def __init__(self) -> None:
        self.count = 0

    def on_server_event(self, event: object, context: SessionContext) -> None:
        self.count += 1

    def on_response_audio_delta(self, event: object, context: SessionContext) -> None:
        self.count += 1


def ours(frames: list[str]) -> float:
    """Events per second: voxlive's decode and handler dispatch (the work of ``VoiceLiveSession._dispatch``)."""
    handlers = Counting()
    context = SessionContext("ws://bench", "sess", "m", None)  # type: ignore[arg-type]
    began = time.perf_counter()
    for frame in frames:
        event = VOICELIVE.decode_server_event(frame)
        assert event is not None
        handlers.on_server_event(event, context)
        method = EVENT_HANDLERS.get(event.type)
        if method is not None and getattr(type(handlers), method) is not getattr(SessionHandlers, method):
            getattr(handlers, method)(event, context)
    return len(frames) / (time.perf_counter() - began)


def official(frames: list[str]) -> float:
    """Events per second: the official SDK's parse (as in its ``recv``) and a dispatch on ``type``."""
    from azure.ai.voicelive.models import ServerEvent

    count = 0
    began = time.perf_counter()
    for frame in frames:
        event = ServerEvent._deserialize(json.loads(frame), [])
        if event.type == "response.audio.delta":
            count += len(event.delta)  # reading the field decodes the base64, as an app does
        count += 1
    return len(frames) / (time.perf_counter() - began)


async def append_cost() -> dict[str, list[float]]:
    """Microseconds the server spends on one 100 ms ``input_audio_buffer.append``."""
    from voxlive.config import Settings
    from voxlive.realtime.engine import Engine

    engine = Engine(Settings())
    from voxlive.speech.vad import SileroVAD

    engine.vad = SileroVAD()
    rows: dict[str, list[float]] = {}
    rng = np.random.default_rng(0)
    chunk = (rng.standard_normal(2400) * 300).astype(np.int16)
    append = ClientEventInputAudioBufferAppend(audio=base64.b64encode(chunk.tobytes()).decode())
    text = append.to_json()
    for label, detection in [("append, turn detection off", None), ("append, server_vad", ServerVad())]:
        session = engine.create_session(lambda event: None)
        session.session = ResponseSession(**{**session.session.model_dump(), "turn_detection": detection})
        session.listener.configure(session.session)
        times = []
        for _ in range(500):
            began = time.perf_counter()
            await session.handle(VOICELIVE.decode_client_event(text))
            times.append((time.perf_counter() - began) * 1e6)
        rows[f"{label} (µs)"] = times[50:]
        await engine.end_session(session)
    return rows


async def main() -> None:
    with server() as url:
        frames = await record(url)
    kinds = {json.loads(f)["type"] for f in frames}
    ours_rates = [ours(frames) for _ in range(ROUNDS)]
    official_rates = [official(frames) for _ in range(ROUNDS)]
    ratio = float(np.median(ours_rates) / np.median(official_rates))
    rows = {"voxlive client: events/s": ours_rates, "azure-ai-voicelive: events/s": official_rates}
    rows.update(await append_cost())
    print(percentile_table(f"Protocol ({len(frames)} recorded events of {len(kinds)} types)", rows, unit="see names"))
    print(f"voxlive client parses and dispatches {ratio:.1f}x as many events per second as the official SDK")
    print("results:", write_results("protocol", {**{k: summary(v) for k, v in rows.items()}, "ratio": ratio,
                                                  "events": len(frames)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
