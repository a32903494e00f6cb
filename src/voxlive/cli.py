"""The ``voxlive`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from .config import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .server.app import create_app

    settings = Settings.load(args.config)
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    if args.api_key:
        settings.server.api_keys = [*settings.server.api_keys, *args.api_key]
    host, port = settings.server.host, settings.server.port
    shown = f"[{host}]" if ":" in host else host
    print(f"voxlive is serving on http://{shown}:{port}", flush=True)
    print(f"  VoiceLive:       ws://{shown}:{port}/voice-live/realtime", flush=True)
    print(f"  OpenAI Realtime: ws://{shown}:{port}/v1/realtime", flush=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=args.log_level,
        ws_max_size=4 * settings.server.max_message_bytes,
        ws_ping_interval=20,
        ws_ping_timeout=20,
    )
    return 0


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
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, getattr(args, "log_level", "info").upper()))
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
