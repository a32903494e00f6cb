"""OpenAI-compatible speech endpoints on the engine's stages: ``/v1/audio/speech``, ``/v1/audio/transcriptions``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Message

from ..protocol import ProtocolError, load_json_object
from ..realtime.engine import Engine
from ..realtime.session_config import check_model_name
from ..speech import files
from ..speech.prosody import Prosody
from .errors import api_error

MAX_SPEECH_BODY = 64 * 1024
"""The largest body of a ``/v1/audio/speech`` request (its input is at most 4,096 characters)."""


class SpeechRequest(BaseModel):
    model: str = "tts-1"
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: str = "alloy"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    instructions: str | None = None


class BodyTooLargeError(Exception):
    """A request body larger than its endpoint takes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes, the limit.")

    def response(self) -> JSONResponse:
        return api_error(str(self), 413, code="request_too_large")


def bounded(request: Request, limit: int) -> Request:
    """The request, whose body stops with ``BodyTooLargeError`` as soon as more than ``limit`` bytes come (or its
    ``Content-Length`` says they will)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BodyTooLargeError(limit)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLargeError(limit)
        return message

    return Request(request.scope, receive)


async def speech(request: Request) -> Response:
    """Text to speech, as OpenAI's ``POST /v1/audio/speech``."""
    engine: Engine = request.app.state.engine
    try:
        body = SpeechRequest.model_validate(load_json_object(await bounded(request, MAX_SPEECH_BODY).body()))
    except BodyTooLargeError as exc:
        return exc.response()
    except ProtocolError as exc:
        return api_error(exc.message, param=exc.param, code=exc.code)
    except ValueError as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        param = ".".join(map(str, first["loc"])) if first else None
        return api_error(first["msg"] if first else "The body must be JSON.", param=param)
    if body.voice not in engine.tts.voice_names():
        return api_error(f"Unknown voice '{body.voice}'.", param="voice", code="invalid_value")
    spoken = await engine.tts.synthesize(body.input, body.voice, Prosody(speed=body.speed))
    data = await asyncio.to_thread(files.write, spoken.audio, spoken.sample_rate, body.response_format)
    return Response(data, media_type=files.FILE_FORMATS[body.response_format])


async def transcriptions(request: Request) -> Response:
    """Speech to text, as OpenAI's ``POST /v1/audio/transcriptions`` (multipart form, the file spooled to disk)."""
    engine: Engine = request.app.state.engine
    try:
        async with bounded(request, engine.settings.server.max_upload_bytes).form() as form:
            return await _transcribe(form, engine)
    except BodyTooLargeError as exc:
        return exc.response()
    except HTTPException as exc:  # not a multipart form
        return api_error(exc.detail)


async def _transcribe(form: FormData, engine: Engine) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return api_error("An audio 'file' is required.", param="file")
    language = form.get("language")
    prompt = form.get("prompt")
    fmt = str(form.get("response_format") or "json")
    if fmt not in ("json", "text", "verbose_json"):
        return api_error(f"Unsupported response_format '{fmt}'.", param="response_format")
    model = str(form.get("model") or "")
    try:
        check_model_name(model, "model")
    except ProtocolError as exc:
        return api_error(exc.message, param=exc.param, code=exc.code)
    try:
        audio = await asyncio.to_thread(files.read, upload.file, engine.settings.server.max_audio_seconds)
    except files.AudioTooLongError as exc:
        return api_error(str(exc), param="file", code="audio_too_long")
    except Exception:
        return api_error("The file could not be decoded as audio.", param="file")
    timed = "word" in form.getlist("timestamp_granularities[]") and fmt == "verbose_json"
    stt = engine.recognizer(model, str(language) if language else None, word_timings=timed)
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
