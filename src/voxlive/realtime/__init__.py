"""The session engine: conversation, responses, tool calls, cancellation."""
