"""Tools a session can use beyond its function tools: MCP servers."""
