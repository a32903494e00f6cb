"""The ``voxlive`` command."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

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


BENCHMARKS = ("latency", "concurrency", "protocol")


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
    serve.set_defaults(run=_serve)
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
    logging.basicConfig(level=getattr(logging, getattr(args, "log_level", "info").upper()))
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
