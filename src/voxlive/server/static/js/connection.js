// The realtime socket: opened with the API key as the `api-key` query parameter (browsers cannot set headers on
// a WebSocket; the official browser clients do the same) and the conversation to resume; reopened with backoff
// when it drops; and, when it cannot open, a probe over HTTP that says why, since a browser's WebSocket reports
// no HTTP status.
import { apiKey, keyHeaders } from "./settings.js";

const PATH = "/voice-live/realtime";
const QUERY = "api-version=2025-10-01&model=voxlive-local";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const GIVE_UP = new Set(["invalid_api_key", "origin_not_allowed", "invalid_model", "invalid_value"]);

export class Connection {
  /** `on`: { event(event), sent(event), state(state, detail), failed(message, code) } */
  constructor(on) {
    this.on = on;
    this.ws = null;
    this.wanted = false;    // the user asked to be connected
    this.everOpened = false; // a session was had since the user pressed Connect: drops reconnect
    this.attempt = 0;
    this.timer = null;
    this.conversationId = null;
    this.state = "disconnected";
  }

  setState(state, detail = "") {
    this.state = state;
    this.on.state(state, detail);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const key = apiKey();
    const query = [QUERY];
    if (key) query.push(`api-key=${encodeURIComponent(key)}`);
    if (this.conversationId) query.push(`conversation-id=${encodeURIComponent(this.conversationId)}`);
    return `${scheme}://${location.host}${PATH}?${query.join("&")}`;
  }

  open() {
    this.wanted = true;
    this.everOpened = false;
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    if (!this.wanted) return;
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    let opened = false;
    const ws = (this.ws = new WebSocket(this.url()));
    ws.onopen = () => { opened = true; this.everOpened = true; this.attempt = 0; this.setState("open"); };
    ws.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      this.on.event(event);
    };
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) { this.setState("disconnected"); return; }
      if (opened) { this.retry(`the connection closed (${close.code}${close.reason ? `: ${close.reason}` : ""})`); return; }
      this.diagnose().then(({ message, code, retry }) => {
        if (!this.wanted || this.ws) return;
        if (retry && this.everOpened) { this.retry(message); return; }
        if (retry && this.attempt < BACKOFF_MS.length && code !== "unreachable") {
          this.on.failed(message, code, true);
          this.retry(message);
          return;
        }
        this.wanted = false;
        this.setState("disconnected");
        this.on.failed(message, code, false);
      });
    };
  }

  retry(why) {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.setState("reconnecting", `${why}; trying again in ${(delay / 1000).toFixed(1)} s (attempt ${this.attempt})`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.setState("disconnected");
  }

  get isOpen() { return Boolean(this.ws) && this.ws.readyState === WebSocket.OPEN; }

  send(event) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(event));
    this.on.sent(event);
    return true;
  }

  /** Why the socket could not open: { message, code, retry }. */
  async diagnose() {
    const here = location.host;
    let health;
    try {
      const answer = await fetch("/health", { cache: "no-store" });
      health = { status: answer.status, body: await answer.json().catch(() => ({})) };
    } catch {
      return { code: "unreachable", retry: true,
        message: `The voxlive server at ${here} cannot be reached. Is \`voxlive serve\` running?` };
    }
    if (![200, 500, 503].includes(health.status) || typeof health.body.status !== "string") {
      return { code: "unreachable", retry: true,
        message: `The voxlive server at ${here} cannot be reached (${here} answers, but it is not voxlive). Is \`voxlive serve\` running?` };
    }
    if (health.status === 500) return { code: "failed", retry: false, message: `The server failed to start: ${health.body.error}` };
    let refusal = null;
    try {
      const query = `origin=${encodeURIComponent(location.origin)}&model=voxlive-local`;
      const answer = await fetch(`/realtime/admission?${query}`, { headers: keyHeaders(), cache: "no-store" });
      const body = await answer.json().catch(() => ({}));
      refusal = answer.ok ? null : { status: answer.status, code: (body.error || {}).code, text: (body.error || {}).message };
    } catch {
      refusal = null;
    }
    return explain(refusal, health, Boolean(apiKey()));
  }
}

function explain(refusal, health, hasKey) {
  if (!refusal) {
    if (health.status === 503) {
      const codes = { draining: "server_draining", full: "server_full" };
      return explain({ status: 503, code: codes[health.body.status] || "server_loading" }, health, hasKey);
    }
    return { code: "closed", retry: true, message: "The server closed the connection as it opened. Trying again." };
  }
  const { code } = refusal;
  const messages = {
    invalid_api_key: hasKey
      ? "The key was refused: this server does not know it. Check the API key in Settings and press Connect."
      : "This server needs an API key. Enter it in Settings and press Connect.",
    origin_not_allowed: `This server does not accept pages from ${location.origin}. Add it to [server] allowed_origins in the server's configuration.`,
    server_full: "The server is full: it serves as many conversations as it can. Trying again shortly.",
    too_many_sessions_for_key: "This API key holds as many sessions as the server allows one key. Close another session or try again later.",
    server_loading: "The server is still loading its models. Trying again shortly.",
    server_draining: "The server is restarting. Trying again shortly.",
  };
  const message = messages[code] || `The server refused the connection${refusal.text ? `: ${refusal.text}` : "."}`;
  return { code: code || "refused", message, retry: !GIVE_UP.has(code) };
}
