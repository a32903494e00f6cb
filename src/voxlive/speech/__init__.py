"""Pipeline stages (LLM, and later VAD, STT, TTS) with local and OpenAI-compatible providers."""
