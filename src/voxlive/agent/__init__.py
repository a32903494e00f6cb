"""``VoiceAgent`` and ``VideoAgent``: in-process agents on the realtime engine, with events and a WebSocket protocol."""

from .events import EventEmitter
from .history import HistoryOptions
from .tools import Tool
from .video_agent import VideoAgent
from .voice_agent import AgentDestroyedError, SpeechOptions, VoiceAgent

__all__ = [
    "AgentDestroyedError",
    "EventEmitter",
    "HistoryOptions",
    "SpeechOptions",
    "Tool",
    "VideoAgent",
    "VoiceAgent",
]
