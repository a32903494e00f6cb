"""voxlive: realtime voice agents on local models, speaking the VoiceLive and OpenAI Realtime protocols."""

__version__ = "0.1.0"
