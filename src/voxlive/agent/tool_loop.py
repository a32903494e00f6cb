"""``ToolLoop``: a turn's answer, as responses until the model stops calling tools, the tools run between them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from ..protocol import (
    ClientEventConversationItemCreate,
    ClientEventResponseCreate,
    FunctionCallItem,
    FunctionCallOutputItem,
    Response,
    ResponseCreateParams,
    ResponseFailedDetails,
    ServerEvent,
    ServerEventResponseDone,
    ServerEventResponseFunctionCallArgumentsDone,
    new_id,
)
from ..realtime.session import RealtimeSession
from .events import (
    AgentError,
    AgentEvent,
    StepFinish,
    StepStart,
    StreamAbort,
    StreamError,
    StreamFinish,
    ToolCall,
    ToolError,
    ToolResult,
)
from .tools import Tool


class ToolLoop:
    """Each step is one response (a ``step_start`` and a ``step_finish``). The function calls a step ends with
    are run, and their outputs added to the conversation for the next step. A call repeated with the same
    arguments is not run again: it gets the same output, and the next step must answer without tools, as must
    the last one. Each call is a ``chunk:tool_call`` event, each result a ``tool_result`` (or ``tool_error``)."""

    def __init__(self, tools: dict[str, Tool], emit: Callable[[AgentEvent], object]) -> None:
        self.tools = tools
        self.cancelled = False
        """Set by an interruption: the turn takes no further step."""
        self.calls: list[dict[str, Any]] = []
        """The turn's tool calls, as ``chunk:tool_call`` reports them."""
        self._emit = emit
        self._waiting: asyncio.Future[Response] | None = None

    def on_server_event(self, event: ServerEvent) -> None:
        """The engine's function calls, and the end of each response."""
        if isinstance(event, ServerEventResponseFunctionCallArgumentsDone):
            try:
                arguments = json.loads(event.arguments or "{}")
            except ValueError:
                arguments = event.arguments
            call = ToolCall(tool_name=event.name, tool_call_id=event.call_id, input=arguments)
            self.calls.append(call.payload()[0])
            self._emit(call)
        elif isinstance(event, ServerEventResponseDone) and self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(event.response)

    def start(self) -> None:
        """A new turn: no calls yet, and not cancelled."""
        self.calls, self.cancelled = [], False

    async def run(self, session: RealtimeSession, max_steps: int) -> tuple[Response, list[dict[str, Any]]]:
        """The turn's steps (at most ``max_steps``): the last response, and the results of the tools run."""
        results: list[dict[str, Any]] = []
        made: dict[tuple[str, str], dict[str, Any]] = {}
        """The calls made this turn, by (name, arguments), and their outputs."""
        answer_now = False
        response: Response | None = None
        for step in range(max_steps):
            self._emit(StepStart())
            last = step == max_steps - 1
            response = await self._create_response(session, "none" if (last or answer_now) and self.tools else None)
            self._emit(StepFinish(finish_reason=finish_reason(response), usage=usage(response)))
            calls = [item for item in response.output if isinstance(item, FunctionCallItem)]
            if response.status != "completed" or not calls or self.cancelled:
                break
            for call in calls:
                key = (call.name, call.arguments or "{}")
                answer_now |= key in made  # asking again what it was told: it is going round, so it answers next
                if key not in made:
                    made[key] = await self._run_tool(session, call)
                    results.append(made[key])
                else:
                    await _tool_output(session, call.call_id, made[key]["output"])
        assert response is not None
        return response, results

    async def _create_response(self, session: RealtimeSession, tool_choice: str | None) -> Response:
        await session.wait_idle()
        waiting: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting = waiting
        params = ResponseCreateParams(tool_choice=tool_choice) if tool_choice else None
        await session.handle(ClientEventResponseCreate(response=params))
        if session.response is None and not waiting.done():
            raise RuntimeError("The response could not be started.")
        return await waiting

    async def _run_tool(self, session: RealtimeSession, call: FunctionCallItem) -> dict[str, Any]:
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise LookupError(f"No tool named {call.name!r}.")
            result = await tool.call(call.arguments or "{}")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._emit(ToolError(tool_name=call.name, tool_call_id=call.call_id, error=error))
            self._emit(AgentError(error=exc))
            output: Any = {"error": error}
        else:
            output = result
            self._emit(ToolResult(name=call.name, tool_call_id=call.call_id, result=result))
        await _tool_output(session, call.call_id, output)
        return {"toolName": call.name, "toolCallId": call.call_id, "output": output}


async def _tool_output(session: RealtimeSession, call_id: str, output: Any) -> None:
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    item = FunctionCallOutputItem(id=new_id("item"), call_id=call_id, output=text)
    await session.handle(ClientEventConversationItemCreate(item=item))


def stream_end(response: Response) -> StreamAbort | StreamError | StreamFinish:
    """How the turn's stream ended, by its last response."""
    if response.status == "cancelled":
        return StreamAbort(reason="interrupted")
    if response.status == "failed":
        details = response.status_details
        failed = details.error if isinstance(details, ResponseFailedDetails) else None
        return StreamError(error=(failed.message if failed is not None else None) or "generation failed")
    return StreamFinish(finish_reason=finish_reason(response), usage=usage(response))


def finish_reason(response: Response) -> str:
    if response.status == "incomplete":
        return "length"
    if any(isinstance(item, FunctionCallItem) for item in response.output):
        return "tool-calls"
    return "stop" if response.status == "completed" else str(response.status)


def usage(response: Response) -> dict[str, int]:
    usage = response.usage
    if usage is None:
        return {}
    return {"inputTokens": usage.input_tokens or 0, "outputTokens": usage.output_tokens or 0}
