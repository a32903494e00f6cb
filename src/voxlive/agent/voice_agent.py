"""``VoiceAgent``: an in-process voice agent on the realtime engine, with events and a simple WebSocket protocol.

The agent is a face of the same engine as the realtime server: each agent owns one ``RealtimeSession``
(conversation, responses, chunked speech, cancellation) and maps what it does to the agent's events and
WebSocket messages. Function tools are plain Python functions; the agent runs them between responses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Settings, TurnTakingSettings
from ..protocol import (
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventInputAudioBufferAppend,
    ClientEventInputAudioBufferCommit,
    ClientEventResponseCreate,
    ClientEventSessionUpdate,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    Item,
    MessageItem,
    ProtocolError,
    RequestSession,
    Response,
    ResponseCreateParams,
    ServerEvent,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionFailed,
    ServerEventError,
    ServerEventInputAudioBufferCommitted,
    ServerEventResponseDone,
    ServerEventResponseFunctionCallArgumentsDone,
    load_json_object,
    new_id,
)
from ..realtime.engine import Engine
from ..realtime.response import FAILED
from ..realtime.session import RealtimeSession
from ..realtime.speaker import speakable
from ..speech import audio as pcm
from ..speech import files
from ..speech.llm import LLM, Message
from ..speech.stt import STT
from ..speech.tts import TTS, Speech
from .events import EventEmitter
from .history import HistoryOptions, history, items_from_messages, trim
from .socket import AgentSocket, WebsocketsSocket, adapt
from .tools import Tool, tools_from

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {"wav": "wav", "pcm16": "pcm", "mp3": "mp3", "opus": "opus"}
"""The agent's audio formats, and the file format each is written as (``pcm16``: raw 16-bit, 24 kHz)."""
DEFAULT_MAX_AUDIO_SIZE = 10 * 1024 * 1024

ToolsArg = Iterable[Callable[..., Any] | Tool] | Mapping[str, Callable[..., Any] | Tool] | None


@dataclass(frozen=True)
class SpeechOptions:
    """How the reply is cut into pieces for the TTS, and how many are synthesized ahead."""

    min_chunk_size: int = 50
    max_chunk_size: int = 200
    parallel_generation: bool = True
    max_parallel_requests: int = 3


_shared_engine: Engine | None = None


AGENT_SETTINGS = Settings(turn=TurnTakingSettings(smart_turn=False))
"""An agent's own engine: the embedded stack; no turn model (the agent is given whole turns, it detects none)."""


def shared_engine() -> Engine:
    """The embedded local stack, loaded once per process and shared by every agent that does not bring its own."""
    global _shared_engine
    if _shared_engine is None:
        _shared_engine = Engine(AGENT_SETTINGS)
    return _shared_engine


class AgentDestroyedError(RuntimeError):
    pass


class VoiceAgent(EventEmitter):
    """Speech or text in, a streamed (and spoken) LLM reply out, with tools, barge-in and bounded history.

    Every argument defaults to the embedded local stack. Listen with ``agent.on(event, fn)`` (or
    ``@agent.on(event)``), ``once`` and ``off``; listeners may be sync or async. Events and their payload
    fields are those of the reference library: ``text``, ``chunk:text_delta``, ``chunk:tool_call``,
    ``tool_result``, ``speech_start``, ``speech_chunk_queued``, ``audio_chunk``, ``speech_complete``,
    ``speech_interrupted``, ``audio``, ``transcription``, ``audio_received``, ``history_cleared``,
    ``history_trimmed``, ``connected``, ``disconnected``, ``error``, ``warning``.
    """

    name = "VoiceAgent"

    def __init__(
        self,
        *,
        llm: LLM | None = None,
        stt: STT | None = None,
        tts: TTS | None = None,
        engine: Engine | None = None,
        instructions: str | None = None,
        tools: ToolsArg = None,
        voice: str | None = None,
        output_format: str = "wav",
        streaming_speech: SpeechOptions | None = None,
        history: HistoryOptions | None = None,
        max_audio_input_size: int = DEFAULT_MAX_AUDIO_SIZE,
        max_steps: int = 5,
        temperature: float | None = None,
        endpoint: str | None = None,
        conversation_id: str | None = None,
        owner: str = "",
    ) -> None:
        super().__init__()
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}.")
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1.")
        if engine is None:
            own = llm is not None or stt is not None or tts is not None
            engine = Engine(AGENT_SETTINGS, llm, stt, tts) if own else shared_engine()
        self.engine = engine
        defaults = engine.settings.session
        self.instructions = instructions if instructions is not None else defaults.instructions
        self.tools: dict[str, Tool] = tools_from(tools)
        self.voice = voice or engine.default_voice
        if self.voice not in engine.tts.voice_names():
            raise ValueError(f"Unknown voice {self.voice!r}. Available: {', '.join(engine.tts.voice_names())}.")
        self.output_format = output_format
        self.streaming_speech = streaming_speech or SpeechOptions()
        self.history_options = history or HistoryOptions()
        self.max_audio_input_size = max_audio_input_size
        self.max_steps = max_steps
        self.temperature = defaults.temperature if temperature is None else temperature
        self.endpoint = endpoint
        self.conversation_id = conversation_id
        """The stored conversation this agent continues (resumed when the session starts), then its own."""
        self.owner = owner
        """Who the agent's conversations belong to (a digest of the API key it serves)."""
        self._session: RealtimeSession | None = None
        self._starting: asyncio.Lock | None = None
        self._initial_history: list[Message] = []
        self._turn_lock: asyncio.Lock | None = None
        self._processing = False
        self._speaking = False
        self._silenced = False
        """Set by an interruption: nothing more of the current reply is spoken."""
        self._queued_chunks: deque[int] = deque()
        self._chunk_ids = itertools.count()
        self._reply: list[str] = []
        self._texts_open: set[str] = set()
        self._tool_calls: list[dict[str, Any]] = []
        self._waiting_response: asyncio.Future[Response] | None = None
        self._waiting_transcripts: dict[str, asyncio.Future[ServerEvent]] = {}
        self._committed: str | None = None
        self._cancelled = False
        """Set by ``interrupt_current_response``: the turn's tool loop stops."""
        self._socket: AgentSocket | None = None
        self._outbox: asyncio.Queue[str | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._turn_tasks: set[asyncio.Task[Any]] = set()
        self._destroyed = False

    # -- properties ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._socket is not None

    @property
    def processing(self) -> bool:
        return self._processing

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pending_speech_chunks(self) -> int:
        return len(self._queued_chunks)

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    @property
    def history(self) -> list[Message]:
        """A copy of the conversation as chat messages (tool calls and results included)."""
        if self._session is None:
            return [dict(m) for m in self._initial_history]
        return history(self._session.conversation)

    def set_history(self, messages: list[Message]) -> None:
        """Replace the history (chat messages: user, assistant with ``tool_calls``, tool)."""
        items = items_from_messages(messages)
        if self._session is None:
            self._initial_history = [dict(m) for m in messages]
            return
        self._replace_items(items)

    def _replace_items(self, items: list[Item]) -> None:
        assert self._session is not None
        conversation = self._session.conversation
        for item in list(conversation):
            assert item.id is not None
            conversation.delete(item.id)
        for item in items:
            conversation.insert(item)

    def clear_history(self) -> None:
        self.set_history([])
        self.emit("history_cleared")

    def register_tools(self, tools: ToolsArg) -> None:
        """Add tools (functions or ``Tool``s) to those the model may call."""
        self.tools.update(tools_from(tools))
        if self._session is not None:
            self._session.session.tools = self._function_tools()

    # -- the engine session ----------------------------------------------------------------------

    async def _ready(self) -> RealtimeSession:
        self._check_alive()
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._session is None:
                await self.engine.load()
                session = self.engine.create_session(self._on_server_event, owner=self.owner, paced=False)
                await session.start(self.conversation_id)
                resumed = self.conversation_id == session.conversation.id
                self.conversation_id = session.conversation.id
                session.observer = self
                speech = self.streaming_speech
                session.speak_overrides = {
                    "min_chars": speech.min_chunk_size,
                    "max_chars": speech.max_chunk_size,
                    "ahead": max(1, speech.max_parallel_requests) if speech.parallel_generation else 1,
                }
                await session.handle(ClientEventSessionUpdate(session=self._session_config()))
                self._session = session
                if not resumed:
                    self._replace_items(items_from_messages(self._initial_history))
        return self._session

    def _session_config(self) -> RequestSession:
        return RequestSession(
            modalities=["text", "audio"],
            instructions=self.instructions,
            voice=self.voice,
            input_audio_format="pcm16",
            input_audio_sampling_rate=pcm.STAGE_RATE,
            output_audio_format="pcm16",
            input_audio_transcription={"model": "whisper-1"},
            turn_detection=None,
            tools=self._function_tools(),
            tool_choice="auto",
            temperature=self.temperature,
        )

    def _function_tools(self) -> list[Any]:
        tools = []
        for tool in self.tools.values():
            function = tool.schema()["function"]
            tools.append(
                FunctionTool(name=tool.name, description=function["description"], parameters=function["parameters"])
            )
        return tools

    def _on_server_event(self, event: ServerEvent) -> None:
        """The engine's events for this agent's session."""
        if isinstance(event, ServerEventResponseFunctionCallArgumentsDone):
            try:
                arguments = json.loads(event.arguments or "{}")
            except ValueError:
                arguments = event.arguments
            call = {"toolName": event.name, "toolCallId": event.call_id, "input": arguments}
            self._tool_calls.append(call)
            self.emit("chunk:tool_call", call)
            self._send({"type": "tool_call", **call})
        elif isinstance(event, ServerEventResponseDone):
            if self._waiting_response is not None and not self._waiting_response.done():
                self._waiting_response.set_result(event.response)
        elif isinstance(
            event,
            ServerEventConversationItemInputAudioTranscriptionCompleted
            | ServerEventConversationItemInputAudioTranscriptionFailed,
        ):
            waiting = self._waiting_transcripts.pop(event.item_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(event)
        elif isinstance(event, ServerEventInputAudioBufferCommitted):
            self._committed = event.item_id
        elif isinstance(event, ServerEventError) and event.error.code != FAILED:  # a failed response: as it ends
            self._fail(RuntimeError(event.error.message))

    # -- the observer of responses (LLM text as written, spoken pieces) --------------------------

    def text(self, item_id: str, delta: str) -> None:
        if item_id not in self._texts_open:
            self._texts_open.add(item_id)
            self._send({"type": "text_start", "id": item_id})
        self._reply.append(delta)
        self.emit("chunk:text_delta", {"id": item_id, "text": delta})
        self._send({"type": "text_delta", "id": item_id, "text": delta})

    def reasoning(self, response_id: str, delta: str) -> None:
        self.emit("chunk:reasoning_delta", {"id": response_id, "text": delta})
        self._send({"type": "reasoning_delta", "id": response_id, "text": delta})

    def piece_queued(self, item_id: str, text: str) -> None:
        if self._silenced:
            return
        chunk_id = next(self._chunk_ids)
        self._queued_chunks.append(chunk_id)
        self.emit("speech_chunk_queued", {"id": chunk_id, "text": text.strip()})
        if not self._speaking:
            self._speaking = True
            self.emit("speech_start", {"streaming": True})
            self._send({"type": "speech_stream_start"})

    def piece_sent(self, item_id: str, text: str, speech: Speech) -> None:
        if self._silenced or not self._queued_chunks:
            return
        chunk_id = self._queued_chunks.popleft()
        data = files.write(speech.audio, speech.sample_rate, OUTPUT_FORMATS[self.output_format])
        encoded = base64.b64encode(data).decode()
        payload = {"chunkId": chunk_id, "data": encoded, "format": self.output_format, "text": text.strip()}
        self.emit("audio_chunk", {**payload, "uint8Array": data})
        self._send({"type": "audio_chunk", **payload})

    def _end_speech(self) -> None:
        if self._speaking:
            self._speaking = False
            self.emit("speech_complete", {"streaming": True})
            self._send({"type": "speech_stream_end"})

    # -- turns -----------------------------------------------------------------------------------

    async def send_text(self, text: str) -> str:
        """Answer ``text`` (after the turns before it); returns the reply once it has been spoken."""
        self._check_alive()
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Text input cannot be empty")
        return await self._turn(lambda: self._user_text(text))

    async def send_audio(self, audio: str | bytes, format: str | None = None) -> str:
        """Answer speech: an audio file (WAV, MP3, Ogg/Opus, WebM…) as bytes or base64. Returns the reply."""
        self._check_alive()
        data = self._audio_bytes(audio)
        if data is None:
            return ""
        return await self._turn(lambda: self._user_audio(data, format))

    def _audio_bytes(self, audio: str | bytes) -> bytes | None:
        """The audio as bytes, or ``None`` (with an ``error`` or ``warning``) when it cannot be used."""
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else bytes(audio)
        except (binascii.Error, ValueError):
            self._fail(ValueError("Audio input is not valid base64."))
            return None
        if len(data) > self.max_audio_input_size:
            megabytes = len(data) / 1024 / 1024
            limit = self.max_audio_input_size / 1024 / 1024
            self._fail(ValueError(f"Audio input too large ({megabytes:.1f} MB). Maximum allowed: {limit:.1f} MB"))
            return None
        if not data:
            self.emit("warning", "Received empty audio data")
            return None
        return data

    async def _turn(self, user: Callable[[], Awaitable[bool]]) -> str:
        """One turn, after those before it: add the user's message (``user``), then respond."""
        if self._turn_lock is None:
            self._turn_lock = asyncio.Lock()
        async with self._turn_lock:
            self._check_alive()
            self._processing = True
            try:
                await self._ready()
                if not await user():
                    return ""
                return await self._respond()
            finally:
                self._processing = False

    async def _user_text(self, text: str) -> bool:
        item = MessageItem(id=new_id("item"), role="user", content=[InputTextContentPart(text=text)])
        seen = await self._with_frames(item)
        await self._add_item(item)
        self._user_said(text, seen)
        return True

    def _user_said(self, text: str, seen: bool) -> None:
        """The ``text`` event of the user's turn (``hasImage`` when it carries visual context)."""
        self.emit("text", {"role": "user", "text": text, "hasImage": True} if seen else {"role": "user", "text": text})

    async def _with_frames(self, item: MessageItem) -> bool:
        """Add visual context to the user's message (``VideoAgent``); whether there was any."""
        return False

    async def _add_item(self, item: Item) -> None:
        assert self._session is not None
        await self._session.handle(ClientEventConversationItemCreate(item=item))

    async def _user_audio(self, data: bytes, format: str | None) -> bool:
        """Put the audio in the conversation; the engine transcribes it."""
        session = self._session
        assert session is not None
        self.emit("audio_received", {"size": len(data), "format": format})
        try:
            samples = pcm.to_int16(
                await asyncio.to_thread(files.read, data, self.engine.settings.server.max_audio_seconds)
            )
        except Exception as exc:
            self._fail(ValueError(f"The audio could not be decoded: {exc}"))
            self._send({"type": "transcription_error", "error": f"Transcription failed: {exc}"})
            return False
        encoded = base64.b64encode(samples.astype("<i2").tobytes()).decode()
        await session.handle(ClientEventInputAudioBufferAppend(audio=encoded))
        self._committed = None
        await session.handle(ClientEventInputAudioBufferCommit())
        item_id = self._committed
        if item_id is None:
            return False  # too short to commit: the engine said so in an error event
        waiting: asyncio.Future[ServerEvent] = asyncio.get_running_loop().create_future()
        self._waiting_transcripts[item_id] = waiting
        result = await waiting
        if isinstance(result, ServerEventConversationItemInputAudioTranscriptionFailed):
            self._send({"type": "transcription_error", "error": f"Transcription failed: {result.error.message}"})
            return False
        assert isinstance(result, ServerEventConversationItemInputAudioTranscriptionCompleted)
        text = result.transcript.strip()
        if not text:
            await session.handle(ClientEventConversationItemDelete(item_id=item_id))
            self.emit("warning", "Transcription returned empty text")
            self._send({"type": "transcription_error", "error": "Transcription returned empty text"})
            return False
        language = session.listener.transcripts[item_id].result().language
        self.emit("transcription", {"text": text, "language": language})
        self._send({"type": "transcription_result", "text": text, "language": language})
        item = session.conversation.get(item_id)
        assert isinstance(item, MessageItem)
        seen = await self._with_frames(item)
        self._user_said(text, seen)
        return True

    async def _respond(self) -> str:
        """Responses until the model stops calling tools (at most ``max_steps``), spoken as they stream."""
        self._reply, self._tool_calls, self._silenced, self._cancelled = [], [], False, False
        results: list[dict[str, Any]] = []
        self._send({"type": "stream_start"})
        response: Response | None = None
        made: dict[tuple[str, str], Any] = {}
        """The calls made this turn, by (name, arguments), and their outputs."""
        answer_now = False
        for step in range(self.max_steps):
            self._send({"type": "step_start", "warnings": []})
            last = step == self.max_steps - 1
            response = await self._create_response("none" if (last or answer_now) and self.tools else None)
            for item_id in self._texts_open:
                self._send({"type": "text_end", "id": item_id})
            self._texts_open.clear()
            finish = _finish_reason(response)
            self._send({"type": "step_finish", "finishReason": finish, "usage": _usage(response)})
            calls = [item for item in response.output if isinstance(item, FunctionCallItem)]
            if response.status != "completed" or not calls or self._cancelled:
                break
            for call in calls:
                key = (call.name, call.arguments or "{}")
                answer_now |= key in made  # asking again what it was told: it is going round, so it answers next
                if key not in made:
                    made[key] = await self._run_tool(call)
                    results.append(made[key])
                else:
                    await self._tool_output(call.call_id, made[key]["output"])
        assert response is not None
        if response.status == "cancelled":
            self._send({"type": "stream_abort", "reason": "interrupted"})
        elif response.status == "failed":
            error = response.status_details.error.message if response.status_details else "generation failed"  # type: ignore[union-attr]
            self._send({"type": "stream_error", "error": error})
            self._fail(RuntimeError(error))
        else:
            self._send({"type": "stream_finish", "finishReason": _finish_reason(response), "usage": _usage(response)})
        self._end_speech()
        reply = "".join(self._reply).strip()
        self._trim_history()
        if reply:
            self.emit("text", {"role": "assistant", "text": reply})
        self._send(self._completion(reply, results))
        return reply

    def _completion(self, reply: str, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "response_complete", "text": reply, "toolCalls": list(self._tool_calls), "toolResults": results}

    async def _create_response(self, tool_choice: str | None) -> Response:
        session = self._session
        assert session is not None
        previous = session.response
        if previous is not None and previous.task is not None:
            await asyncio.wait([previous.task])  # its response.done is out; its task (which frees the slot) ends later
        waiting: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting_response = waiting
        params = ResponseCreateParams(tool_choice=tool_choice) if tool_choice else None
        await session.handle(ClientEventResponseCreate(response=params))
        if session.response is None and not waiting.done():
            raise RuntimeError("The response could not be started.")
        return await waiting

    async def _run_tool(self, call: FunctionCallItem) -> dict[str, Any]:
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise LookupError(f"No tool named {call.name!r}.")
            result = await tool.call(call.arguments or "{}")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._send({"type": "tool_error", "toolName": call.name, "toolCallId": call.call_id, "error": error})
            self._fail(exc)
            output = {"error": error}
        else:
            output = result
            self.emit("tool_result", {"name": call.name, "toolCallId": call.call_id, "result": result})
            self._send({"type": "tool_result", "toolName": call.name, "toolCallId": call.call_id, "result": result})
        await self._tool_output(call.call_id, output)
        return {"toolName": call.name, "toolCallId": call.call_id, "output": output}

    async def _tool_output(self, call_id: str, output: Any) -> None:
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        await self._add_item(FunctionCallOutputItem(id=new_id("item"), call_id=call_id, output=text))

    def _trim_history(self) -> None:
        assert self._session is not None
        for removed, reason in trim(self._session.conversation, self.history_options):
            self.emit("history_trimmed", {"removedCount": removed, "reason": reason})

    # -- the stages alone ------------------------------------------------------------------------

    async def transcribe_audio(self, audio: bytes | str) -> str:
        """The words in an audio file (no reply)."""
        self._check_alive()
        data = self._audio_bytes(audio)
        if data is None:
            return ""
        await self.engine.load()
        audio = await asyncio.to_thread(files.read, data, self.engine.settings.server.max_audio_seconds)
        transcript = await self.engine.stt.transcribe(audio)
        self.emit("transcription", {"text": transcript.text, "language": transcript.language})
        self._send({"type": "transcription_result", "text": transcript.text, "language": transcript.language})
        return transcript.text

    async def generate_speech_full(self, text: str) -> bytes:
        """``text`` spoken in one piece, in the agent's output format (also sent as an ``audio`` message)."""
        self._check_alive()
        await self.engine.load()
        self.emit("speech_start", {"text": text, "streaming": False})
        try:
            speech = await self.engine.tts.synthesize(speakable(text), self.voice)
            data = files.write(speech.audio, speech.sample_rate, OUTPUT_FORMATS[self.output_format])
        except Exception as exc:
            self._fail(exc)
            return b""
        encoded = base64.b64encode(data).decode()
        self._send({"type": "audio", "data": encoded, "format": self.output_format})
        self.emit("audio", {"data": encoded, "format": self.output_format, "uint8Array": data})
        self.emit("speech_complete", {"text": text, "streaming": False})
        return data

    # -- interruptions ---------------------------------------------------------------------------

    def interrupt_speech(self, reason: str = "interrupted") -> None:
        """Stop speaking at once; the reply goes on in text."""
        session = self._session
        if session is not None and session.turn is not None:
            session.turn.interrupt("speech")
        self._speech_interrupted(reason)

    def interrupt_current_response(self, reason: str = "interrupted") -> None:
        """Stop the reply: the LLM, the tool loop and the speech."""
        session = self._session
        if session is not None and session.turn is not None:
            session.turn.interrupt("client_cancelled")
        self._cancelled = True
        self._speech_interrupted(reason)

    def _speech_interrupted(self, reason: str) -> None:
        self._silenced = True
        if not (self._speaking or self._queued_chunks):
            return
        self._speaking = False
        self._queued_chunks.clear()
        self.emit("speech_interrupted", {"reason": reason})
        self._send({"type": "speech_interrupted", "reason": reason})

    # -- the WebSocket protocol ------------------------------------------------------------------

    async def handle_socket(self, websocket: Any) -> None:
        """Talk to a client over ``websocket`` (Starlette/FastAPI, or ``websockets``) until it closes."""
        self._check_alive()
        await self._attach(adapt(websocket))
        await self._ready()
        self._send({"type": "conversation", "id": self.conversation_id})
        assert self._reader is not None
        await asyncio.wait([self._reader])

    async def connect(self, url: str | None = None) -> None:
        """Connect to a WebSocket server and take its messages as the client's."""
        self._check_alive()
        import websockets

        connection = await websockets.connect(url or self.endpoint or "ws://localhost:8080", max_size=None)
        await self._attach(WebsocketsSocket(connection))

    async def _attach(self, socket: AgentSocket) -> None:
        if self._socket is not None:
            await self.disconnect()
        self._socket = socket
        self._outbox = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(socket, self._outbox))
        self._reader = asyncio.create_task(self._read(socket))
        self.emit("connected")

    async def _read(self, socket: AgentSocket) -> None:
        try:
            while (text := await socket.receive()) is not None:
                await self._on_message(text)
        except Exception as exc:
            self._fail(exc)
        finally:
            if self._socket is socket:
                await self._detach("disconnected")

    async def _write(self, socket: AgentSocket, outbox: asyncio.Queue[str | None]) -> None:
        while (text := await outbox.get()) is not None:
            try:
                await socket.send(text)
            except Exception:
                return  # the reader sees the socket close

    def _send(self, message: dict[str, Any]) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(json.dumps(message))

    def _reject(self, message: str) -> None:
        """A bad client message: one ``error`` event, one ``error`` message; the session goes on."""
        self._fail(ValueError(message))

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
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
        handler = self._handlers().get(message["type"])
        if handler is None:
            known = ", ".join(self._handlers())
            self._reject(f"Unknown message type {message['type']!r}. Known types: {known}.")
            return
        await handler(message)

    async def _on_transcript(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            self.emit("warning", "Received an empty or invalid transcript message")
            self._send({"type": "error", "error": "A transcript message needs a non-empty 'text'."})
            return
        self.interrupt_current_response("user_speaking")
        self._background(self.send_text(text))

    async def _on_audio(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if not isinstance(data, str) or not data:
            self.emit("warning", "Received an audio message without data")
            self._send({"type": "error", "error": "An audio message needs base64 'data'."})
            return
        self.interrupt_current_response("user_speaking")
        self._background(self.send_audio(data, message.get("format")))

    async def _on_interrupt(self, message: dict[str, Any]) -> None:
        reason = message.get("reason")
        self.interrupt_current_response(reason if isinstance(reason, str) and reason else "client_request")

    def _background(self, turn: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(turn)
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task[Any]) -> None:
        self._turn_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())

    async def disconnect(self) -> None:
        """Close the socket, stop what is in flight, and emit ``disconnected``."""
        if self._socket is not None:
            await self._detach("disconnected")

    async def _detach(self, reason: str) -> None:
        socket, self._socket = self._socket, None
        self.interrupt_current_response(reason)
        for task in list(self._turn_tasks):
            task.cancel()
        if self._outbox is not None:
            self._outbox.put_nowait(None)
        self._outbox = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        if socket is not None:
            try:
                await socket.close()
            except Exception as exc:  # already closed by the other side
                log.debug("closing the socket: %s", exc)
            self.emit("disconnected")

    async def destroy(self) -> None:
        """Stop everything and release the session; the agent cannot be used afterwards."""
        if self._destroyed:
            return
        await self.disconnect()
        self.interrupt_current_response("interrupted")
        self._destroyed = True
        if self._session is not None:  # its conversation stays stored, to be resumed by id
            await self.engine.end_session(self._session)
            self._session = None
        self.tools.clear()
        self.remove_all_listeners()

    def _check_alive(self) -> None:
        if self._destroyed:
            raise AgentDestroyedError(f"{self.name} has been destroyed and cannot be used")

    def _fail(self, error: BaseException | None) -> None:
        """One failure: one ``error`` event and, with a client, one ``error`` message."""
        self.emit("error", error)
        self._send({"type": "error", "error": str(error)})


def _finish_reason(response: Response) -> str:
    if response.status == "incomplete":
        return "length"
    if any(isinstance(item, FunctionCallItem) for item in response.output):
        return "tool-calls"
    return "stop" if response.status == "completed" else str(response.status)


def _usage(response: Response) -> dict[str, int]:
    usage = response.usage
    if usage is None:
        return {}
    return {"inputTokens": usage.input_tokens or 0, "outputTokens": usage.output_tokens or 0}
