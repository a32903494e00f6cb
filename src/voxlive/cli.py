"""The ``voxlive`` command."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from .config import Settings
from .speech.voices import DEFAULT_VOICE

LOCAL_RAY = "local"
"""``--ray`` without an address: the Ray cluster running on this machine, or a new one."""


def _serve(args: argparse.Namespace) -> int:
    from .server.serve import serve
    from .speech.assets import ModelFileError, smart_turn_path

    settings = Settings.load(args.config)
    if settings.turn.smart_turn:
        try:
            smart_turn_path()
        except ModelFileError as error:
            print(f"voxlive cannot serve: {error}", file=sys.stderr)
            return 1
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    if args.api_key:
        settings.server.api_keys = [*settings.server.api_keys, *args.api_key]
    host, port = settings.server.host, settings.server.port
    shown = f"[{host}]" if ":" in host else host
    print(f"voxlive is serving on http://{shown}:{port}", flush=True)
    print(f"  Web page:        http://{shown}:{port}/", flush=True)
    print(f"  VoiceLive:       ws://{shown}:{port}/voice-live/realtime", flush=True)
    print(f"  OpenAI Realtime: ws://{shown}:{port}/v1/realtime", flush=True)
    if args.ray is not None:
        from .cluster.run import serve_on_ray

        serve_on_ray(settings, None if args.ray == LOCAL_RAY else args.ray)
        return 0
    serve(settings, args.log_level)
    return 0


def _talk(args: argparse.Namespace) -> int:
    import asyncio

    from .talk import talk

    if args.wav is None and not args.mic:
        print("Say what to talk with: --wav FILE or --mic.", file=sys.stderr)
        return 2
    wav = Path(args.wav) if args.wav else None
    return asyncio.run(talk(args.url, args.api_key, wav, Path(args.out) if args.out else None, args.voice))


def _say(args: argparse.Namespace) -> int:
    import asyncio

    from .speech import files
    from .speech.tts import PiperTTS

    out = Path(args.out)
    fmt = out.suffix[1:] or "wav"
    if fmt not in files.FILE_FORMATS:
        print(f"Cannot write .{fmt}: use one of {', '.join(files.FILE_FORMATS)}.", file=sys.stderr)
        return 2
    tts = PiperTTS()
    if args.voice not in tts.voice_names():
        print(f"Unknown voice {args.voice!r}. Available: {', '.join(tts.voice_names())}.", file=sys.stderr)
        return 2
    speech = asyncio.run(tts.synthesize(args.text, args.voice))
    out.write_bytes(files.write(speech.audio, speech.sample_rate, fmt))
    print(f"{out} ({speech.duration_ms / 1000:.1f} s)")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    import asyncio

    from .speech import files
    from .speech.stt import WhisperSTT

    audio = files.read(Path(args.file).read_bytes())
    transcript = asyncio.run(WhisperSTT(args.model).transcribe(audio, language=args.language))
    print(transcript.text)
    return 0


def _models(args: argparse.Namespace) -> int:
    """Every embedded model: where it is, its size and its SHA-256 (the split ones are assembled if needed)."""
    import hashlib

    from .speech import assets

    rows = [
        ("VAD", "Silero VAD v6", assets.silero_vad_path),
        ("STT", "Whisper tiny.en (CTranslate2)", lambda: assets.whisper_model_dir("tiny.en") / "model.bin"),
        ("STT", "Whisper base (CTranslate2)", lambda: assets.whisper_model_dir("base") / "model.bin"),
        ("STT", "Moonshine tiny (ONNX Runtime)", lambda: assets.moonshine_dir() / "encoder_model.ort"),
        ("turn", "Smart Turn v3.2 (ONNX)", assets.smart_turn_path),
        ("LLM", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", assets.llm_model_path),
        ("TTS", f"Piper {DEFAULT_VOICE}", assets.piper_voice_path),
    ]
    for stage, name, locate in rows:
        try:
            path = locate()
        except (FileNotFoundError, ModuleNotFoundError, assets.ModelFileError) as exc:
            print(f"{stage:<4} {name:<36} missing: {exc}")
            continue
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        size = path.stat().st_size / 1e6
        print(f"{stage:<4} {name:<36} {size:8.1f} MB  sha256 {digest.hexdigest()}  {path}")
    return 0


BENCHMARKS = ("latency", "turns", "recognizers", "quality", "answers", "concurrency", "protocol", "mcp")


def _bench(args: argparse.Namespace) -> int:
    """Run benchmarks from a source checkout; each prints its tables and writes benchmarks/results/NAME.json."""
    here = [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    folder = next((path for path in here if (path / "latency.py").exists()), None)
    if folder is None:
        print("voxlive bench runs from a source checkout: no benchmarks/ folder was found.", file=sys.stderr)
        return 2
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        print(
            f"Unknown benchmark(s): {', '.join(sorted(unknown))}. Choose from {', '.join(BENCHMARKS)}.", file=sys.stderr
        )
        return 2
    failed = 0
    for name in args.names or BENCHMARKS:
        print(f"\n== {name} ==", flush=True)
        failed |= subprocess.run([sys.executable, str(folder / f"{name}.py")]).returncode
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxlive", description="Realtime voice agents on local models.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the realtime server", description="Run the VoiceLive / OpenAI Realtime server."
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--config", help="a TOML settings file ([server], [llm], [session])")
    serve.add_argument("--api-key", action="append", help="require this API key (repeatable)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        metavar="ADDRESS",
        help="serve on a Ray cluster (the ray extra): the one at ADDRESS, else the one running here or a new one",
    )
    serve.set_defaults(run=_serve)
    talk = commands.add_parser(
        "talk",
        help="a spoken conversation with a server, from a WAV file or the microphone",
        description="Talk to a running server: both transcripts print live, with each turn's latency.",
    )
    talk.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    talk.add_argument("--wav", help="say this audio file (any format), then wait for the answers")
    talk.add_argument("--mic", action="store_true", help="talk through the microphone (the audio extra)")
    talk.add_argument("--out", help="write the reply audio here (.wav, .mp3, .opus, .flac)")
    talk.add_argument("--voice", help="the agent's voice")
    talk.add_argument("--api-key", help="the server's API key")
    talk.set_defaults(run=_talk)
    say = commands.add_parser("say", help="speak text with the TTS alone", description="Speak text to a file.")
    say.add_argument("text")
    say.add_argument("--voice", default=DEFAULT_VOICE, help=f"a Piper voice (default {DEFAULT_VOICE})")
    say.add_argument("--out", default="speech.wav", help="the file, its format from its extension (default speech.wav)")
    say.set_defaults(run=_say)
    transcribe = commands.add_parser(
        "transcribe", help="transcribe an audio file with the STT alone", description="Print what a file says."
    )
    transcribe.add_argument("file", help="an audio file (WAV, MP3, Ogg/Opus, WebM, FLAC…)")
    transcribe.add_argument("--model", default="tiny.en", help="tiny.en (default), base, or a model directory")
    transcribe.add_argument("--language", help="the language, for the multilingual model")
    transcribe.set_defaults(run=_transcribe)
    models = commands.add_parser(
        "models",
        help="the embedded models: sizes and checksums",
        description="List the embedded models with their sizes and SHA-256 (split ones are assembled first).",
    )
    models.set_defaults(run=_models)
    bench = commands.add_parser(
        "bench",
        help="measure latency, concurrency and protocol speed",
        description="Run the benchmarks (from a source checkout): each prints p50/p95 tables and writes JSON "
        "to benchmarks/results/.",
    )
    bench.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    bench.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, getattr(args, "log_level", "warning").upper()))
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
