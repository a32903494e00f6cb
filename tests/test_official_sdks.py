"""The official Azure VoiceLive and OpenAI Realtime SDKs, unchanged, against ``voxlive serve``."""

from __future__ import annotations

import json

from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import (
    AssistantMessageItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    Modality,
    OutputTextContentPart,
    RequestSession,
    ResponseCreateParams,
    UserMessageItem,
)
from azure.core.credentials import AzureKeyCredential
from openai import AsyncOpenAI

from conftest import Server

INSTRUCTIONS = "You are a helpful voice assistant. Use the tool results to answer the user in one short sentence."
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_azure_voicelive_sdk_text_conversation(server: Server) -> None:
    credential = AzureKeyCredential("any-key")
    async with connect(endpoint=server.http, credential=credential, model="voxlive-local") as conn:
        await conn.session.update(session=RequestSession(modalities=[Modality.TEXT], instructions=INSTRUCTIONS))
        seen: dict[str, object] = {}
        async for event in conn:
            seen[event.type] = event
            if event.type == "session.updated":
                break
        assert seen["session.created"].session.id.startswith("sess_")
        assert seen["session.updated"].session.modalities == ["text"]

        # A streamed text answer.
        await conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text="What is the capital of France?")])
        )
        await conn.response.create()
        deltas = []
        async for event in conn:
            if event.type == "response.text.delta":
                deltas.append(event.delta)
            if event.type == "response.done":
                done = event
                break
        assert "Paris" in "".join(deltas)
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].text == "".join(deltas)
        assert done.response.usage.output_tokens > 0

        # A function-tool round trip.
        await conn.session.update(session=RequestSession(tools=[FunctionTool(**WEATHER)]))
        async for event in conn:
            if event.type == "session.updated":
                assert event.session.tools[0].name == "get_weather"
                break
        await conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text="What is the weather in Paris right now?")])
        )
        await conn.response.create(response=ResponseCreateParams(tool_choice="get_weather"))
        async for event in conn:
            if event.type == "response.function_call_arguments.done":
                arguments = json.loads(event.arguments)
            if event.type == "response.done":
                call = event.response.output[0]
                break
        assert call.type == "function_call" and call.name == "get_weather"
        assert arguments["city"].lower() == "paris"
        await conn.conversation.item.create(
            item=FunctionCallOutputItem(
                call_id=call.call_id, output=json.dumps("It is 31 degrees Celsius and sunny in Paris.")
            )
        )
        await conn.response.create(response=ResponseCreateParams(tool_choice="none"))
        text = ""
        async for event in conn:
            if event.type == "response.text.done":
                text = event.text
            if event.type == "response.done":
                break
        assert "31" in text

        # A cancel.
        await conn.conversation.item.create(
            item=UserMessageItem(content=[InputTextContentPart(text="Tell me a long story about a dragon.")])
        )
        await conn.response.create(response=ResponseCreateParams(instructions="Tell long stories."))
        async for event in conn:
            if event.type == "response.text.delta":
                await conn.response.cancel()
            if event.type == "response.done":
                assert event.response.status == "cancelled"
                assert event.response.status_details.reason == "client_cancelled"
                break

        # Bad input through the SDK's raw send: an error, and the session goes on.
        await conn.send({"type": "conversation.item.retrieve", "item_id": "item_nope", "event_id": "evt_bad"})
        async for event in conn:
            assert event.type == "error"
            assert event.error.event_id == "evt_bad" and event.error.code == "item_not_found"
            break


async def test_azure_voicelive_sdk_truncates_a_cancelled_spoken_reply(server: Server) -> None:
    """The SDK's truncate right after its cancel, then again after the cancelled response is done, at all the
    audio it received (more than at the first truncate)."""
    story = "One two three four five. Six seven eight nine ten. Eleven twelve thirteen fourteen fifteen."
    message = AssistantMessageItem(content=[OutputTextContentPart(text=story)])
    async with connect(endpoint=server.http, credential=AzureKeyCredential("any-key"), model="voxlive-local") as conn:
        await conn.response.create(response=ResponseCreateParams(pre_generated_assistant_message=message))
        received = 0
        item_id = ""
        truncated: list[int] = []
        async for event in conn:
            assert event.type != "error", event
            if event.type == "response.audio.delta":
                received += len(event.delta)
                if not item_id:
                    item_id = event.item_id
                    await conn.response.cancel()
                    await conn.conversation.item.truncate(item_id=item_id, audio_end_ms=received // 48, content_index=0)
                    played = received // 48
            if event.type == "conversation.item.truncated":
                truncated.append(event.audio_end_ms)
            if event.type == "response.done":
                assert event.response.status == "cancelled"
                await conn.conversation.item.truncate(item_id=item_id, audio_end_ms=received // 48, content_index=0)
            if len(truncated) == 2:
                break
        assert truncated == [played, received // 48] and played < received // 48


async def test_openai_sdk_text_conversation(server: Server) -> None:
    client = AsyncOpenAI(base_url=f"{server.http}/v1", api_key="any-key")
    async with client.realtime.connect(model="voxlive-local") as conn:
        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "instructions": INSTRUCTIONS,
                "audio": {"input": {"turn_detection": None}},
            }
        )
        async for event in conn:
            if event.type == "session.updated":
                assert event.session.type == "realtime"
                assert event.session.output_modalities == ["text"]
                assert event.session.audio.input.turn_detection is None
                break

        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Capital of France?"}]}
        )
        await conn.response.create()
        deltas = []
        kinds = []
        async for event in conn:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            if event.type == "response.done":
                done = event
                break
        assert "conversation.item.added" in kinds and "conversation.item.done" in kinds
        assert "Paris" in "".join(deltas)
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].type == "output_text"

        await conn.session.update(session={"type": "realtime", "tools": [{"type": "function", **WEATHER}]})
        async for event in conn:
            if event.type == "session.updated":
                assert event.session.tools[0].name == "get_weather"
                break

        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is the weather in Paris right now?"}],
            }
        )
        await conn.response.create(response={"tool_choice": {"type": "function", "name": "get_weather"}})
        async for event in conn:
            if event.type == "response.function_call_arguments.done":
                assert json.loads(event.arguments)["city"].lower() == "paris"
            if event.type == "response.done":
                call = event.response.output[0]
                break
        assert call.type == "function_call"
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": "It is 31 degrees Celsius and sunny in Paris.",
            }
        )
        await conn.response.create(response={"tool_choice": "none"})
        async for event in conn:
            if event.type == "response.output_text.done":
                assert "31" in event.text
            if event.type == "response.done":
                break

        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "A long story?"}]}
        )
        await conn.response.create(response={"instructions": "Tell very long stories."})
        async for event in conn:
            if event.type == "response.output_text.delta":
                await conn.response.cancel()
            if event.type == "response.done":
                assert event.response.status == "cancelled"
                assert event.response.status_details.reason == "client_cancelled"
                break

        await conn.send({"type": "response.cancel", "event_id": "evt_nothing"})
        async for event in conn:
            assert event.type == "error" and event.error.event_id == "evt_nothing"
            break
