"""Chat in text with a realtime session, printing the answer as it streams.

.venv/bin/python examples/text_chat.py [--endpoint http://127.0.0.1:8000] [--key KEY]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from voxlive.client import SessionContext, SessionHandlers, VoiceLiveClient
from voxlive.protocol import ServerEventError, ServerEventResponseDone, ServerEventResponseTextDelta


class Printer(SessionHandlers):
    def __init__(self) -> None:
        self.done = asyncio.Event()

    def on_response_text_delta(self, event: ServerEventResponseTextDelta, context: SessionContext) -> None:
        print(event.delta, end="", flush=True)

    def on_response_done(self, event: ServerEventResponseDone, context: SessionContext) -> None:
        print()
        self.done.set()

    def on_server_error(self, event: ServerEventError, context: SessionContext) -> None:
        print(f"\n[error] {event.error.message}", file=sys.stderr)
        self.done.set()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default=None)
    args = parser.parse_args()
    printer = Printer()
    client = VoiceLiveClient(args.endpoint, args.key)
    async with client.connect("voxlive-local", handlers=printer, session={"modalities": ["text"]}) as session:
        loop = asyncio.get_running_loop()
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            printer.done.clear()
            await session.add_user_text(line)
            await session.create_response()
            await printer.done.wait()


if __name__ == "__main__":
    asyncio.run(main())
