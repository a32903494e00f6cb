"""OpenAI-compatible speech endpoints on the engine's stages: ``/v1/audio/speech``, ``/v1/audio/transcriptions``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..protocol import ProtocolError, load_json_object
from ..realtime.engine import Engine
from ..speech import files
from ..speech.prosody import Prosody


class SpeechRequest(BaseModel):
    model: str = "tts-1"
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: str = "alloy"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    instructions: str | None = None


def api_error(message: str, status: int = 400, param: str | None = None, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


async def speech(request: Request, engine: Engine) -> Response:
    """Text to speech, as OpenAI's ``POST /v1/audio/speech``."""
    try:
        body = SpeechRequest.model_validate(load_json_object(await request.body()))
    except ProtocolError as exc:
        return api_error(exc.message)
    except ValueError as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        param = ".".join(map(str, first["loc"])) if first else None
        return api_error(first["msg"] if first else "The body must be JSON.", param=param)
    if body.voice not in engine.tts.voice_names():
        return api_error(f"Unknown voice '{body.voice}'.", param="voice", code="invalid_value")
    spoken = await engine.tts.synthesize(body.input, body.voice, Prosody(speed=body.speed))
    data = await asyncio.to_thread(files.write, spoken.audio, spoken.sample_rate, body.response_format)
    return Response(data, media_type=files.FILE_FORMATS[body.response_format])


async def transcriptions(request: Request, engine: Engine) -> Response:
    """Speech to text, as OpenAI's ``POST /v1/audio/transcriptions`` (multipart form)."""
    form = await request.form(max_part_size=64 * 1024 * 1024)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return api_error("An audio 'file' is required.", param="file")
    language = form.get("language")
    prompt = form.get("prompt")
    fmt = str(form.get("response_format") or "json")
    if fmt not in ("json", "text", "verbose_json"):
        return api_error(f"Unsupported response_format '{fmt}'.", param="response_format")
    try:
        audio = await asyncio.to_thread(files.read, await upload.read())
    except Exception:
        return api_error("The file could not be decoded as audio.", param="file")
    timed = "word" in form.getlist("timestamp_granularities[]") and fmt == "verbose_json"
    stt = engine.recognizer(str(form.get("model") or ""), str(language) if language else None, word_timings=timed)
    transcript = await stt.transcribe(
        audio, language=str(language) if language else None, prompt=str(prompt) if prompt else None
    )
    if fmt == "text":
        return PlainTextResponse(transcript.text)
    if fmt == "json":
        return JSONResponse({"text": transcript.text})
    words: list[dict[str, Any]] = [
        {"word": w.text, "start": w.start, "end": w.end} for w in transcript.words if w.start is not None
    ]
    return JSONResponse(
        {
            "task": "transcribe",
            "language": transcript.language,
            "duration": transcript.duration,
            "text": transcript.text,
            "words": words,
            "segments": [],
        }
    )
