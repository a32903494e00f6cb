"""The ASGI server: WebSocket endpoints, auth, limits, health."""
