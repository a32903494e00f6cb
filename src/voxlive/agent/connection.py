"""The agent's WebSocket protocol: a client's JSON messages become the agent's turns and interruptions, and
the agent's events go to the client as JSON messages (the seed library's types and camelCase fields).

In: ``transcript`` {text}, ``audio`` {data, format}, ``interrupt`` {reason}; to a ``VideoAgent`` also
``video_frame`` and ``client_ready``. Out: ``conversation`` {id} first, then the events ``wire_message`` maps
(``text_delta``, ``tool_call``, ``audio_chunk``, ``response_complete``…), and an ``error`` for a bad message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..protocol import ProtocolError, load_json_object
from .events import (
    AgentError,
    AgentEvent,
    AgentWarning,
    AudioChunk,
    ClientReady,
    Disconnected,
    FrameReceived,
    FrameRequested,
    ReasoningDelta,
    ResponseComplete,
    SpeechAudio,
    SpeechComplete,
    SpeechInterrupted,
    SpeechStart,
    StepFinish,
    StepStart,
    StreamAbort,
    StreamError,
    StreamFinish,
    StreamStart,
    TextDelta,
    ToolCall,
    ToolError,
    ToolResult,
    Transcription,
    TranscriptionError,
)
from .frames import image_data, now_ms
from .socket import AgentSocket

if TYPE_CHECKING:
    from .video_agent import VideoAgent
    from .voice_agent import VoiceAgent

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

_RENAMED: dict[type[AgentEvent], str] = {
    TextDelta: "text_delta",
    ReasoningDelta: "reasoning_delta",
    ToolCall: "tool_call",
    Transcription: "transcription_result",
}
_AS_IS = (
    ToolError,
    StreamStart,
    StepStart,
    StepFinish,
    StreamFinish,
    StreamAbort,
    StreamError,
    ResponseComplete,
    SpeechInterrupted,
    TranscriptionError,
)


def wire_message(event: AgentEvent) -> dict[str, Any] | None:
    """The message a client is sent for ``event``, if any."""
    if isinstance(event, SpeechStart | SpeechComplete):
        kind = "speech_stream_start" if isinstance(event, SpeechStart) else "speech_stream_end"
        return {"type": kind} if event.streaming else None  # speech in one piece goes out as ``audio``
    if isinstance(event, ToolResult):
        return {"type": "tool_result", "toolName": event.name, "toolCallId": event.tool_call_id, "result": event.result}
    if isinstance(event, AudioChunk):
        chunk = {"chunkId": event.chunk_id, "data": event.data, "format": event.format, "text": event.text}
        return {"type": "audio_chunk", **chunk}
    if isinstance(event, SpeechAudio):
        return {"type": "audio", "data": event.data, "format": event.format}
    if isinstance(event, AgentError):
        return {"type": "error", "error": str(event.error)}
    if isinstance(event, _AS_IS) or type(event) in _RENAMED:
        fields = event.payload()
        return {"type": _RENAMED.get(type(event), event.type), **(fields[0] if fields else {})}
    return None


class AgentConnection:
    """One client of an agent over one socket, from ``start`` to ``close``. The client's messages are read in
    order; a ``transcript`` or ``audio`` interrupts the reply in progress and starts a turn (turns run in order)."""

    sent: ClassVar[tuple[type[AgentEvent], ...]] = (
        *_RENAMED,
        *_AS_IS,
        SpeechStart,
        SpeechComplete,
        ToolResult,
        AudioChunk,
        SpeechAudio,
        AgentError,
    )
    """The events the client is sent."""

    def __init__(self, agent: VoiceAgent, socket: AgentSocket, closed: Callable[[AgentConnection], None]) -> None:
        self.agent = agent
        self.socket = socket
        self._closed = closed
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._texts_open: set[str] = set()
        self._turns: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._open = False

    def start(self) -> None:
        """Send the agent's events, and read the client's messages."""
        self._open = True
        for kind in self.sent:
            self.agent.on(kind, self._forward)
        self._writer = asyncio.create_task(self._write())
        self._reader = asyncio.create_task(self._read())

    async def wait_closed(self) -> None:
        assert self._reader is not None
        await asyncio.wait([self._reader])

    def send(self, message: dict[str, Any]) -> None:
        self._outbox.put_nowait(json.dumps(message))

    def _forward(self, event: AgentEvent) -> None:
        for message in self.messages(event):
            self.send(message)

    def messages(self, event: AgentEvent) -> list[dict[str, Any]]:
        """The messages ``event`` is sent as: a message's text is framed by ``text_start`` and ``text_end``."""
        message = wire_message(event)
        framing: list[dict[str, Any]] = []
        if isinstance(event, TextDelta) and event.id not in self._texts_open:
            self._texts_open.add(event.id)
            framing = [{"type": "text_start", "id": event.id}]
        elif isinstance(event, StepFinish):
            framing = [{"type": "text_end", "id": item_id} for item_id in self._texts_open]
            self._texts_open.clear()
        return [*framing, *([message] if message is not None else [])]

    async def _read(self) -> None:
        try:
            while (text := await self.socket.receive()) is not None:
                await self._on_message(text)
        except Exception as exc:
            self.agent.emit(AgentError(error=exc))
        finally:
            if self._open:
                await self.close()

    async def _write(self) -> None:
        while (text := await self._outbox.get()) is not None:
            try:
                await self.socket.send(text)
            except Exception:
                return  # the reader sees the socket close

    async def close(self, reason: str = "disconnected") -> None:
        """Stop the reply and the turns in flight, close the socket, and emit ``disconnected``."""
        if not self._open:
            return
        self._open = False
        self._closed(self)
        self.agent.interrupt_current_response(reason)
        for task in list(self._turns):
            task.cancel()
        for kind in self.sent:
            self.agent.off(kind, self._forward)
        self._outbox.put_nowait(None)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        try:
            await self.socket.close()
        except Exception as exc:  # already closed by the other side
            log.debug("closing the socket: %s", exc)
        self.agent.emit(Disconnected())

    # -- the client's messages -------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {"transcript": self._on_transcript, "audio": self._on_audio, "interrupt": self._on_interrupt}

    async def _on_message(self, text: str) -> None:
        try:
            message = load_json_object(text)
        except ProtocolError as exc:
            self._reject(exc.message)
            return
        if not isinstance(message.get("type"), str):
            self._reject("A message must be a JSON object with a string 'type'.")
            return
        handler = self.handlers().get(message["type"])
        if handler is None:
            known = ", ".join(self.handlers())
            self._reject(f"Unknown message type {message['type']!r}. Known types: {known}.")
            return
        await handler(message)

    def _reject(self, message: str) -> None:
        """A bad message: one ``error`` event (and so one ``error`` message); the connection goes on."""
        self.agent.emit(AgentError(error=ValueError(message)))

    def _refuse(self, warning: str, error: str) -> None:
        """A message without what it needs: a ``warning`` event, and an ``error`` message that says what it needs."""
        self.agent.emit(AgentWarning(message=warning))
        self.send({"type": "error", "error": error})

    async def _on_transcript(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            self._refuse(
                "Received an empty or invalid transcript message", "A transcript message needs a non-empty 'text'."
            )
            return
        self.agent.interrupt_current_response("user_speaking")
        self._background(self.agent.send_text(text))

    async def _on_audio(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if not isinstance(data, str) or not data:
            self._refuse("Received an audio message without data", "An audio message needs base64 'data'.")
            return
        self.agent.interrupt_current_response("user_speaking")
        self._background(self.agent.send_audio(data, message.get("format")))

    async def _on_interrupt(self, message: dict[str, Any]) -> None:
        reason = message.get("reason")
        self.agent.interrupt_current_response(reason if isinstance(reason, str) and reason else "client_request")

    def _background(self, turn: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(turn)
        self._turns.add(task)
        task.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task[Any]) -> None:
        self._turns.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.agent.emit(AgentError(error=exc))


class VideoConnection(AgentConnection):
    """A ``VideoAgent``'s client: it sends frames (``video_frame``, answered with ``frame_ack``), is asked for one
    (``capture_frame``) when the user speaks, and is told its session (``session_init``) once ready."""

    agent: VideoAgent
    sent = (*AgentConnection.sent, FrameReceived, FrameRequested)

    def messages(self, event: AgentEvent) -> list[dict[str, Any]]:
        if isinstance(event, FrameReceived):
            return [{"type": "frame_ack", "sequence": event.sequence, "timestamp": event.timestamp}]
        if isinstance(event, FrameRequested):
            return [{"type": "capture_frame", "reason": event.reason, "timestamp": now_ms()}]
        messages = super().messages(event)
        if isinstance(event, ResponseComplete):
            frames = self.agent.frame_context
            context = {"frameCount": len(frames), "lastFrameSequence": frames[-1]["sequence"]} if frames else None
            messages[-1] = {**messages[-1], "sessionId": self.agent.session_id, "frameContext": context}
        return messages

    def handlers(self) -> dict[str, Handler]:
        return {**super().handlers(), "video_frame": self._on_frame, "client_ready": self._on_client_ready}

    async def _on_transcript(self, message: dict[str, Any]) -> None:
        if isinstance(message.get("text"), str) and message["text"].strip():
            self.agent.request_frame_capture("user_request")
        await super()._on_transcript(message)

    async def _on_audio(self, message: dict[str, Any]) -> None:
        if isinstance(message.get("data"), str) and message["data"]:
            self.agent.request_frame_capture("user_request")
        await super()._on_audio(message)

    async def _on_frame(self, message: dict[str, Any]) -> None:
        if image_data(message) is None:
            self._refuse("Received a video frame without image data", "A video_frame needs image.data (base64).")
            return
        self.agent.take_frame(message)

    async def _on_client_ready(self, message: dict[str, Any]) -> None:
        self.send({"type": "session_init", "sessionId": self.agent.session_id})
        self.agent.emit(ClientReady(capabilities=message.get("capabilities")))
