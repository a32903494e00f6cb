"""Say a WAV file to a realtime session and save the spoken reply.

    .venv/bin/python examples/speak_wav.py question.wav reply.wav [--endpoint http://127.0.0.1:8000]

The file is streamed in 100 ms chunks in real time; the server's turn detection decides when the
question ends. Both transcripts are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import wave

import numpy as np

from voxlive.client import SessionContext, SessionHandlers, VoiceLiveClient
from voxlive.protocol import (
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventResponseAudioDelta,
    ServerEventResponseAudioTranscriptDone,
    ServerEventResponseDone,
)
from voxlive.speech.audio import resample

RATE = 24_000


class Reply(SessionHandlers):
    def __init__(self) -> None:
        self.audio = bytearray()
        self.done = asyncio.Event()

    def on_conversation_item_input_audio_transcription_completed(
        self, event: ServerEventConversationItemInputAudioTranscriptionCompleted, context: SessionContext
    ) -> None:
        print(f"you:   {event.transcript}")

    def on_response_audio_delta(self, event: ServerEventResponseAudioDelta, context: SessionContext) -> None:
        self.audio += base64.b64decode(event.delta)

    def on_response_audio_transcript_done(
        self, event: ServerEventResponseAudioTranscriptDone, context: SessionContext
    ) -> None:
        print(f"agent: {event.transcript}")

    def on_response_done(self, event: ServerEventResponseDone, context: SessionContext) -> None:
        self.done.set()


def read_wav(path: str) -> np.ndarray:
    with wave.open(path) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, wav.getnchannels())[:, 0]
        return resample(samples.astype(np.int16), wav.getframerate(), RATE)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question")
    parser.add_argument("reply")
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=None)
    args = parser.parse_args()
    audio = np.concatenate([read_wav(args.question), np.zeros(RATE, np.int16)])  # a second of silence after
    reply = Reply()
    client = VoiceLiveClient(args.endpoint, args.key)
    session_config = {"input_audio_transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"}}
    async with client.connect("voxlive-local", handlers=reply, session=session_config) as session:
        for start in range(0, len(audio), RATE // 10):
            await session.send_audio(audio[start : start + RATE // 10])
            await asyncio.sleep(0.1)
        await asyncio.wait_for(reply.done.wait(), 120)
    with wave.open(args.reply, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(reply.audio))


if __name__ == "__main__":
    asyncio.run(main())
