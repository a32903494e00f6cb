"""A voice agent with one tool: ask it something, hear the answer (written to reply-N.wav).

.venv/bin/python examples/voice_agent.py "What's the weather in Paris?"
"""

import asyncio
import sys
from pathlib import Path

from voxlive.agent import VoiceAgent


def get_weather(city: str) -> str:
    """The weather now in a city.

    Args:
        city: The city's name, e.g. Paris.
    """
    return f"It is 21 degrees and sunny in {city}."


async def main(question: str) -> None:
    agent = VoiceAgent(tools=[get_weather], output_format="wav", temperature=0)
    agent.on("chunk:tool_call", lambda call: print(f"[tool] {call['toolName']}({call['input']})"))
    agent.on("audio_chunk", lambda chunk: Path(f"reply-{chunk['chunkId']}.wav").write_bytes(chunk["uint8Array"]))
    print(await agent.send_text(question))
    await agent.destroy()


asyncio.run(main(" ".join(sys.argv[1:]) or "What's the weather in Paris?"))
