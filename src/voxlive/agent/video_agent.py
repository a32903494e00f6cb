"""``VideoAgent``: a ``VoiceAgent`` that also sees, through camera frames sent as image content to a vision model."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from typing import Any, Literal

from ..protocol import InputImageContentPart, MessageItem
from .connection import VideoConnection
from .events import AgentWarning, ConfigChanged, FrameReceived, FrameRequested
from .frames import Frame, image_data, now_ms, perceptual_hash
from .voice_agent import VoiceAgent

FrameTrigger = Literal["scene_change", "user_request", "timer", "initial"]
DEFAULT_MAX_FRAME_SIZE = 5 * 1024 * 1024
VIDEO_INSTRUCTIONS = (
    "You are a helpful multimodal assistant that can see through the user's camera and hear their voice. "
    "When you look at images, be concise but informative, and describe what you see when asked. Keep your "
    "answers conversational: they are spoken aloud. Use tools when they give accurate information."
)


class VideoAgent(VoiceAgent):
    """Camera frames become visual context: the latest ``max_context_frames`` distinct scenes are sent as images
    with the user's turn. A frame is requested when the user speaks, and the turn waits for it (up to
    ``frame_wait`` seconds). The first frame is the ``initial`` one; a frame that differs from the one before
    by more than ``scene_change_distance`` bits of its perceptual hash is a ``scene_change``, and a timer frame
    that does not replaces the previous one instead of adding to the context.

    The LLM must read images (``llm.vision``): without one, construction fails and says so.
    """

    name = "VideoAgent"
    _connection_type = VideoConnection

    def __init__(
        self,
        *,
        max_frame_input_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_context_frames: int = 10,
        session_id: str | None = None,
        frame_wait: float = 1.5,
        scene_change_distance: int = 12,
        instructions: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(instructions=VIDEO_INSTRUCTIONS if instructions is None else instructions, **options)
        if not self.engine.llm.vision:
            raise ValueError(
                "VideoAgent needs an LLM that reads images, and this one does not: pass a vision model, e.g. "
                "llm=OpenAICompatibleLLM(base_url=..., model='gpt-4o', vision=True) (or [llm] vision = true with "
                "an OpenAI-compatible provider in the server's settings)."
            )
        if max_context_frames < 1:
            raise ValueError("max_context_frames must be at least 1.")
        self.max_frame_input_size = max_frame_input_size
        self.config: dict[str, Any] = {"maxContextFrames": max_context_frames}
        self.session_id = session_id or f"vs_{uuid.uuid4().hex[:12]}"
        self.frame_wait = frame_wait
        self.scene_change_distance = scene_change_distance
        self._frames: list[Frame] = []
        self._last: Frame | None = None
        self._sequence = 0
        self._requested_at: float | None = None
        self._frame_arrived = asyncio.Event()

    @property
    def frame_context(self) -> list[dict[str, Any]]:
        """The frames in the visual context, oldest first (metadata)."""
        return [frame.context() for frame in self._frames]

    @property
    def has_visual_context(self) -> bool:
        return bool(self._frames)

    def update_config(self, max_context_frames: int | None = None) -> dict[str, Any]:
        if max_context_frames is not None:
            if max_context_frames < 1:
                raise ValueError("max_context_frames must be at least 1.")
            self.config["maxContextFrames"] = max_context_frames
            del self._frames[: max(0, len(self._frames) - max_context_frames)]
        self.emit(ConfigChanged(max_context_frames=self.config["maxContextFrames"]))
        return dict(self.config)

    def clear_history(self) -> None:
        self._frames.clear()
        super().clear_history()

    def request_frame_capture(self, reason: str = "user_request") -> None:
        """Ask the client for a frame now."""
        self._requested_at = time.monotonic()
        self._frame_arrived.clear()
        self.emit(FrameRequested(reason=reason))

    async def send_frame(
        self, data: str, query: str | None = None, *, width: int = 640, height: int = 480, format: str = "webp"
    ) -> str:
        """Add a frame (base64 image); with ``query``, ask about it and return the reply."""
        self._check_alive()
        self._sequence += 1
        image = {"data": data, "format": format, "width": width, "height": height}
        self.take_frame({"sequence": self._sequence, "triggerReason": "user_request", "image": image})
        return await self.send_text(query) if query else ""

    def take_frame(self, message: dict[str, Any]) -> Frame | None:
        """A ``video_frame`` message: checked, hashed, classified and added to the visual context."""
        data = image_data(message)
        if data is None:
            self.emit(AgentWarning(message="Received a video frame without image data"))
            return None
        if data.startswith("data:"):
            data = data.partition(",")[2]
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            self._fail(ValueError("The video frame's image.data is not valid base64."))
            return None
        if len(raw) > self.max_frame_input_size:
            limit = self.max_frame_input_size / 1024 / 1024
            self._fail(
                ValueError(f"Frame too large ({len(raw) / 1024 / 1024:.1f} MB). Maximum allowed: {limit:.1f} MB")
            )
            return None
        try:
            digest, width, height = perceptual_hash(raw)
        except Exception as exc:
            self._fail(ValueError(f"The video frame is not an image that can be read: {exc}"))
            return None
        fmt = str(message["image"].get("format") or "webp").removeprefix("image/")
        sequence, timestamp = message.get("sequence"), message.get("timestamp")
        frame = Frame(
            sequence=sequence if isinstance(sequence, int) else self._sequence,
            timestamp=timestamp if isinstance(timestamp, int | float) else now_ms(),
            trigger=str(message.get("triggerReason") or "timer"),
            hash=digest,
            image_url=f"data:image/{fmt};base64,{data}",
        )
        previous = self._last
        distance = 64 if previous is None else bin(previous.hash ^ digest).count("1")
        if previous is None:
            frame.trigger = "initial"
        elif distance > self.scene_change_distance:
            frame.trigger = "scene_change"
        if frame.trigger == "timer" and self._frames:
            self._frames[-1] = frame  # the same scene: keep the newest view of it
        else:
            self._frames.append(frame)
        del self._frames[: max(0, len(self._frames) - self.config["maxContextFrames"])]
        self._last = frame
        self._frame_arrived.set()
        self.emit(
            FrameReceived(
                sequence=frame.sequence,
                timestamp=frame.timestamp,
                trigger_reason=frame.trigger,
                size=len(raw),
                dimensions={"width": width, "height": height},
            )
        )
        return frame

    # -- turns with frames -----------------------------------------------------------------------

    async def _with_frames(self, item: MessageItem) -> bool:
        """Wait (bounded) for a requested frame, then put the visual context in the user's item and take it
        out of the earlier ones, so the model gets at most ``max_context_frames`` images."""
        if self._requested_at is not None and not self._frame_arrived.is_set():
            try:
                await asyncio.wait_for(self._frame_arrived.wait(), self.frame_wait)
            except TimeoutError:
                self.emit(AgentWarning(message=f"No frame arrived within {self.frame_wait} s of the request"))
        self._requested_at = None
        for earlier in self._session.conversation if self._session is not None else []:
            if isinstance(earlier, MessageItem) and earlier is not item:
                earlier.content = [p for p in earlier.content if not isinstance(p, InputImageContentPart)]
        item.content += [InputImageContentPart(image_url=frame.image_url) for frame in self._frames]
        return bool(self._frames)
