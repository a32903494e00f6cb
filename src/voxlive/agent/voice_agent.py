"""``VoiceAgent``: an in-process voice agent on the realtime engine, with events and a simple WebSocket protocol.

The agent is a face of the same engine as the realtime server: each agent owns one ``RealtimeSession``
(conversation, responses, chunked speech, cancellation). What the session does reaches the agent's listeners
as events (``events``): the reply as written and spoken (``reply``), the tools it runs between responses
(``tool_loop``) and the user's audio as heard (``audio_input``). A client socket (``connection``) is one more
listener, that sends the events on.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar

from ..protocol import (
    ClientEventConversationItemCreate,
    InputTextContentPart,
    MessageItem,
    ServerEvent,
    ServerEventError,
    new_id,
)
from ..realtime.engine import Engine
from ..realtime.response import FAILED
from ..realtime.session import RealtimeSession
from ..realtime.speaker import speakable
from ..speech.llm import LLM, Message
from ..speech.stt import STT
from ..speech.tts import TTS
from .audio_input import AudioInput
from .connection import AgentConnection
from .emitter import EventEmitter
from .events import (
    AgentError,
    Connected,
    HistoryCleared,
    ResponseComplete,
    SpeechAudio,
    SpeechComplete,
    SpeechStart,
    StreamError,
    StreamStart,
    TextMessage,
)
from .history import history, items_from_messages, trim
from .options import HistoryOptions, SpeechOptions
from .reply import OUTPUT_FORMATS, ReplyObserver, audio_file
from .setup import SessionPlan, agent_engine, function_tools, open_session
from .socket import AgentSocket, adapt, dial
from .tool_loop import ToolLoop, stream_end
from .tools import Tool, tools_from

DEFAULT_MAX_AUDIO_SIZE = 10 * 1024 * 1024

ToolsArg = Iterable[Callable[..., Any] | Tool] | Mapping[str, Callable[..., Any] | Tool] | None


class AgentDestroyedError(RuntimeError):
    pass


def _check(engine: Engine, voice: str, output_format: str, max_steps: int) -> None:
    """``ValueError`` for an agent's argument out of range."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}.")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1.")
    if voice not in engine.tts.voice_names():
        raise ValueError(f"Unknown voice {voice!r}. Available: {', '.join(engine.tts.voice_names())}.")


class VoiceAgent(EventEmitter):
    """Speech or text in, a streamed (and spoken) LLM reply out, with tools, barge-in and bounded history.

    Every argument defaults to the embedded local stack; ``streaming_speech`` and ``history`` may be mappings of
    their fields. ``agent.on(TextDelta, fn)`` calls ``fn`` with each such event, ``agent.on("chunk:text_delta",
    fn)`` with its payload in the reference library's shape (the names are in ``voxlive.agent.events``); also as
    a decorator, with ``once`` and ``off``; listeners may be sync or async.
    """

    name = "VoiceAgent"
    _connection_type: ClassVar[type[AgentConnection]] = AgentConnection

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
        streaming_speech: SpeechOptions | Mapping[str, Any] | None = None,
        history: HistoryOptions | Mapping[str, Any] | None = None,
        max_audio_input_size: int = DEFAULT_MAX_AUDIO_SIZE,
        max_steps: int = 5,
        temperature: float | None = None,
        endpoint: str | None = None,
        conversation_id: str | None = None,
        owner: str = "",
    ) -> None:
        super().__init__()
        self.streaming_speech = SpeechOptions.of(streaming_speech, "streaming_speech")
        self.history_options = HistoryOptions.of(history, "history")
        self.engine = engine = agent_engine(engine, llm, stt, tts)
        defaults = engine.settings.session
        self.instructions = instructions if instructions is not None else defaults.instructions
        self.tools: dict[str, Tool] = tools_from(tools)
        self.voice = voice or engine.default_voice
        _check(engine, self.voice, output_format, max_steps)
        self.output_format = output_format
        self.max_audio_input_size = max_audio_input_size
        self.max_steps = max_steps
        self.temperature = defaults.temperature if temperature is None else temperature
        self.endpoint = endpoint
        self.conversation_id = conversation_id
        """The stored conversation this agent continues (resumed when the session starts), then its own."""
        self.owner = owner
        """Who the agent's conversations belong to (a digest of the API key it serves)."""
        self._reply = ReplyObserver(self.emit, output_format)
        self._tool_loop = ToolLoop(self.tools, self.emit)
        self._audio = AudioInput(self.emit, engine.settings.server.max_audio_seconds)
        self._session: RealtimeSession | None = None
        self._starting = asyncio.Lock()
        self._turn_lock = asyncio.Lock()
        self._initial_history: list[Message] = []
        self._processing = False
        self._connection: AgentConnection | None = None
        self._destroyed = False

    # -- state -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def processing(self) -> bool:
        return self._processing

    @property
    def speaking(self) -> bool:
        return self._reply.speaking

    @property
    def pending_speech_chunks(self) -> int:
        return self._reply.pending

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    # -- history and tools -----------------------------------------------------------------------

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
        else:
            self._session.replace_items(items)

    def clear_history(self) -> None:
        self.set_history([])
        self.emit(HistoryCleared())

    def register_tools(self, tools: ToolsArg) -> None:
        """Add tools (functions or ``Tool``s) to those the model may call."""
        self.tools.update(tools_from(tools))
        if self._session is not None:
            self._session.set_tools([*function_tools(self.tools)])

    # -- the engine session ----------------------------------------------------------------------

    async def _ready(self) -> RealtimeSession:
        self._check_alive()
        async with self._starting:
            if self._session is None:
                plan = SessionPlan(
                    instructions=self.instructions,
                    voice=self.voice,
                    temperature=self.temperature,
                    tools=self.tools,
                    speech=self.streaming_speech,
                    owner=self.owner,
                    conversation_id=self.conversation_id,
                )
                session, resumed = await open_session(self.engine, plan, self._on_server_event, self._reply)
                self.conversation_id = session.conversation.id
                self._session = session
                if not resumed:
                    session.replace_items(items_from_messages(self._initial_history))
        return self._session

    def _on_server_event(self, event: ServerEvent) -> None:
        """The engine's events for this agent's session."""
        self._tool_loop.on_server_event(event)
        self._audio.on_server_event(event)
        if isinstance(event, ServerEventError) and event.error.code != FAILED:  # a failed response: as it ends
            self._fail(RuntimeError(event.error.message))

    # -- turns -----------------------------------------------------------------------------------

    async def send_text(self, text: str) -> str:
        """Answer ``text`` (after the turns before it); returns the reply once it has been spoken."""
        self._check_alive()
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Text input cannot be empty")
        return await self._turn(lambda session: self._user_text(session, text))

    async def send_audio(self, audio: str | bytes, format: str | None = None) -> str:
        """Answer speech: an audio file (WAV, MP3, Ogg/Opus, WebM…) as bytes or base64. Returns the reply."""
        self._check_alive()
        data = self._audio.data(audio, self.max_audio_input_size)
        if data is None:
            return ""
        return await self._turn(lambda session: self._user_audio(session, data, format))

    async def _turn(self, user: Callable[[RealtimeSession], Awaitable[bool]]) -> str:
        """One turn, after those before it: add the user's message (``user``), then respond."""
        async with self._turn_lock:
            self._check_alive()
            self._processing = True
            try:
                session = await self._ready()
                if not await user(session):
                    return ""
                return await self._respond(session)
            finally:
                self._processing = False

    async def _user_text(self, session: RealtimeSession, text: str) -> bool:
        item = MessageItem(id=new_id("item"), role="user", content=[InputTextContentPart(text=text)])
        seen = await self._with_frames(item)
        await session.handle(ClientEventConversationItemCreate(item=item))
        self.emit(TextMessage(role="user", text=text, has_image=seen))
        return True

    async def _user_audio(self, session: RealtimeSession, data: bytes, format: str | None) -> bool:
        """Put the audio in the conversation; the engine transcribes it."""
        heard = await self._audio.hear(session, data, format)
        if heard is None:
            return False
        item, text = heard
        seen = await self._with_frames(item)
        self.emit(TextMessage(role="user", text=text, has_image=seen))
        return True

    async def _with_frames(self, item: MessageItem) -> bool:
        """Add visual context to the user's message (``VideoAgent``); whether there was any."""
        return False

    async def _respond(self, session: RealtimeSession) -> str:
        """The tool loop's responses, spoken as they stream; the reply once it has been spoken."""
        self._reply.start()
        self._tool_loop.start()
        self.emit(StreamStart())
        response, results = await self._tool_loop.run(session, self.max_steps)
        end = stream_end(response)
        self.emit(end)
        if isinstance(end, StreamError):
            self._fail(RuntimeError(end.error))
        self._reply.finish()
        reply = self._reply.written.strip()
        for trimmed in await trim(session, self.history_options):
            self.emit(trimmed)
        if reply:
            self.emit(TextMessage(role="assistant", text=reply))
        self.emit(ResponseComplete(text=reply, tool_calls=self._tool_loop.calls, tool_results=results))
        return reply

    # -- the stages alone ------------------------------------------------------------------------

    async def transcribe_audio(self, audio: bytes | str) -> str:
        """The words in an audio file (no reply)."""
        self._check_alive()
        data = self._audio.data(audio, self.max_audio_input_size)
        if data is None:
            return ""
        await self.engine.load()
        return await self._audio.transcribe(data, self.engine.stt)

    async def generate_speech_full(self, text: str) -> bytes:
        """``text`` spoken in one piece, in the agent's output format (also sent as an ``audio`` message)."""
        self._check_alive()
        await self.engine.load()
        self.emit(SpeechStart(text=text, streaming=False))
        try:
            data = audio_file(await self.engine.tts.synthesize(speakable(text), self.voice), self.output_format)
        except Exception as exc:
            self._fail(exc)
            return b""
        self.emit(SpeechAudio(data=base64.b64encode(data).decode(), format=self.output_format, uint8_array=data))
        self.emit(SpeechComplete(text=text, streaming=False))
        return data

    # -- interruptions ---------------------------------------------------------------------------

    def interrupt_speech(self, reason: str = "interrupted") -> None:
        """Stop speaking at once; the reply goes on in text."""
        if self._session is not None:
            self._session.stop_speaking()
        self._reply.silence(reason)

    def interrupt_current_response(self, reason: str = "interrupted") -> None:
        """Stop the reply: the LLM, the tool loop and the speech."""
        if self._session is not None:
            self._session.stop_response()
        self._tool_loop.cancelled = True
        self._reply.silence(reason)

    # -- a client over a WebSocket ---------------------------------------------------------------

    async def handle_socket(self, websocket: Any) -> None:
        """Talk to a client over ``websocket`` (Starlette/FastAPI, or ``websockets``) until it closes."""
        self._check_alive()
        connection = await self._attach(adapt(websocket))
        await self._ready()
        connection.send({"type": "conversation", "id": self.conversation_id})
        await connection.wait_closed()

    async def connect(self, url: str | None = None) -> None:
        """Connect to a WebSocket server and take its messages as the client's."""
        self._check_alive()
        await self._attach(await dial(url or self.endpoint or "ws://localhost:8080"))

    async def _attach(self, socket: AgentSocket) -> AgentConnection:
        await self.disconnect()
        connection = self._connection = self._connection_type(self, socket, self._connection_closed)
        connection.start()
        self.emit(Connected())
        return connection

    def _connection_closed(self, connection: AgentConnection) -> None:
        if self._connection is connection:
            self._connection = None

    async def disconnect(self) -> None:
        """Close the socket, stop what is in flight, and emit ``disconnected``."""
        if self._connection is not None:
            await self._connection.close()

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

    def _fail(self, error: BaseException) -> None:
        """One failure: one ``error`` event (and, with a client, one ``error`` message)."""
        self.emit(AgentError(error=error))
