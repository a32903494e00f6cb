"""The voices known by name: the bundled Piper voice, and OpenAI's voice names."""

DEFAULT_VOICE = "en_US-joe-medium"
"""The bundled Piper voice (its model file is named after it), spoken when a session names no other."""
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
"""OpenAI's voices; unless the TTS settings say otherwise, each stands for the bundled voice."""
