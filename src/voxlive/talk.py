"""``voxlive talk``: a spoken conversation with a server, from a WAV file or the microphone, in the terminal."""

from __future__ import annotations

import asyncio
import base64
import bisect
import sys
import time
from pathlib import Path

import numpy as np

from .client import SessionContext, SessionHandlers, VoiceLiveClient
from .protocol import (
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventError,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    ServerEventResponseAudioDelta,
    ServerEventResponseAudioTranscriptDelta,
    ServerEventResponseDone,
)
from .speech import files
from .speech.audio import resample, to_int16

RATE = 24_000
CHUNK_MS = 50


class Conversation(SessionHandlers):
    """Prints both sides as they come (partials, then finals) and each turn's voice-to-voice latency, and
    keeps the reply audio. The latency runs from when the audio where the server heard speech stop was sent
    to the first audio of the answer."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, float]] = []
        """(ms of audio sent so far, when), for every chunk."""
        self.audio = bytearray()
        self.speech_end: float | None = None
        self.answered = asyncio.Event()
        self.speaking = False
        self.turns = 0
        self.replies = 0
        self.latencies: list[float] = []
        self._first_audio = True
        self._heard = ""
        self._answering = False

    def sent_at(self, audio_ms: int) -> float:
        index = bisect.bisect_left(self.sent, (audio_ms, 0.0))
        return self.sent[min(index, len(self.sent) - 1)][1]

    def on_input_audio_buffer_speech_started(
        self, event: ServerEventInputAudioBufferSpeechStarted, context: SessionContext
    ) -> None:
        self.speaking = True

    def on_input_audio_buffer_speech_stopped(
        self, event: ServerEventInputAudioBufferSpeechStopped, context: SessionContext
    ) -> None:
        self.speaking = False
        self.turns += 1
        self.speech_end = self.sent_at(event.audio_end_ms)
        self._first_audio = True

    def on_conversation_item_input_audio_transcription_delta(
        self, event: ServerEventConversationItemInputAudioTranscriptionDelta, context: SessionContext
    ) -> None:
        self._heard += event.delta or ""
        print(f"\r\033[2Kyou:   {self._heard}…", end="", flush=True)

    def on_conversation_item_input_audio_transcription_completed(
        self, event: ServerEventConversationItemInputAudioTranscriptionCompleted, context: SessionContext
    ) -> None:
        self._heard = ""
        print(f"\r\033[2Kyou:   {event.transcript}", flush=True)

    def on_response_audio_transcript_delta(
        self, event: ServerEventResponseAudioTranscriptDelta, context: SessionContext
    ) -> None:
        if not self._answering:
            self._answering = True
            print("agent: ", end="", flush=True)
        print(event.delta, end="", flush=True)

    def on_response_audio_delta(self, event: ServerEventResponseAudioDelta, context: SessionContext) -> None:
        if self._first_audio:
            self._first_audio = False
            if self.speech_end is not None:
                self.latencies.append((time.monotonic() - self.speech_end) * 1000)
        self.audio += base64.b64decode(event.delta)

    def on_response_done(self, event: ServerEventResponseDone, context: SessionContext) -> None:
        self.replies += 1
        self._answering = False
        latency = f"  [{self.latencies[-1]:.0f} ms voice-to-voice]" if self.latencies else ""
        print(f"{latency}\n", flush=True)
        self.answered.set()

    def on_server_error(self, event: ServerEventError, context: SessionContext) -> None:
        print(f"\n[error] {event.error.message}", file=sys.stderr, flush=True)


async def talk(url: str, key: str | None, wav: Path | None, out: Path | None, voice: str | None) -> int:
    """Talk until the file has been said and answered (``wav``), or until Ctrl-C (the microphone)."""
    conversation = Conversation()
    client = VoiceLiveClient(url, key)
    config: dict[str, object] = {
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
    }
    if voice:
        config["voice"] = voice
    async with client.connect("voxlive-local", handlers=conversation, session=config) as session:
        if wav is not None:
            audio = resample(to_int16(files.read(wav.read_bytes())), 16_000, RATE)
            await _say(session, conversation, audio)
        else:
            await _listen(session, conversation)
    if out is not None:
        out.write_bytes(files.write(np.frombuffer(bytes(conversation.audio), "<i2"), RATE, out.suffix[1:] or "wav"))
        print(f"reply written to {out}")
    if conversation.latencies:
        each = ", ".join(f"{ms:.0f} ms" for ms in conversation.latencies)
        print(f"{len(conversation.latencies)} turn(s), voice-to-voice {each}")
    return 0 if conversation.replies else 1


async def _say(session: object, conversation: Conversation, audio: np.ndarray) -> None:
    """The file in real time, then silence until every turn heard has its answer (a microphone never stops)."""
    step = RATE * CHUNK_MS // 1000
    silence = np.zeros(step, np.int16)
    start = time.monotonic()
    chunks = 0

    async def send(samples: np.ndarray) -> None:
        nonlocal chunks
        await asyncio.sleep(max(0.0, start + chunks * CHUNK_MS / 1000 - time.monotonic()))
        await session.send_audio(samples)  # type: ignore[attr-defined]
        chunks += 1
        conversation.sent.append((chunks * CHUNK_MS, time.monotonic()))

    for offset in range(0, len(audio), step):
        await send(audio[offset : offset + step])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        conversation.speaking or conversation.replies < conversation.turns or not conversation.turns
    ):
        await send(silence)
        if not conversation.turns and chunks * CHUNK_MS > len(audio) * 1000 // RATE + 3000:
            print("No speech was heard in the file.", file=sys.stderr)
            return


async def _listen(session: object, conversation: Conversation) -> None:
    from .client import AudioPlayback, Microphone

    playback = AudioPlayback(session, speaker=True)  # type: ignore[arg-type]
    print("Listening: speak (Ctrl-C to stop).", flush=True)
    try:
        async for samples in Microphone(sample_rate=RATE, chunk_ms=CHUNK_MS):
            await session.send_audio(samples)  # type: ignore[attr-defined]
            ms = (conversation.sent[-1][0] if conversation.sent else 0) + CHUNK_MS
            conversation.sent.append((ms, time.monotonic()))
    finally:
        playback.close()
