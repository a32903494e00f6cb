// The voxlive console: connects to the server's realtime endpoint, streams the microphone (hands-free or push to
// talk), plays the reply, interrupts it (cancel, stop, truncate at what was heard), and shows the agent's state,
// the levels, both sides' words, tool calls, each turn's timings and every event.
import { Microphone, level, pcm16Base64 } from "./audio-in.js";
import { Speaker } from "./audio-out.js";
import { Connection } from "./connection.js";
import { $ } from "./dom.js";
import { Face } from "./face.js";
import { ConversationLog, EventLog } from "./log.js";
import * as settings from "./settings.js";

const { RATE } = settings;
const SPEECH_LEVEL = 0.01;     // RMS above which a block of the microphone counts as speech
const QUIET_MS = 400;          // quiet that ends a stretch of speech (for the tests' and the page's own bookkeeping)
const MIN_HOLD_MS = 300;       // a push-to-talk hold shorter than this is not a turn
const MIN_SPEECH_MS = 120;     // nor one with less speech than this in it
const CONVERSATION = "voxlive.conversation";
const LABELS = {
  disconnected: "Disconnected", connecting: "Connecting…", reconnecting: "Reconnecting…",
  listening: "Listening", thinking: "Thinking…", speaking: "Speaking",
};

const stats = (window.voxlive = {
  framesPlayed: 0, visemes: 0, mouthMoves: 0, latencies: [], errors: [],
  state: "disconnected", states: ["disconnected"], session: null, sessions: 0,
  audioContexts: 0, captureNodes: 0, microphonesOpened: 0,
  sent: {}, received: {}, sentAudioMs: 0, audioTime: 0,
  truncates: [], cutAt: {}, openFor: {}, bargeIns: 0, speechStarts: 0, skippedHolds: 0,
  turns: [], prebuffered: {}, underruns: 0, timings: 0, peak: { input: 0, output: 0 },
  input: { capturedMs: 0, lastLoudMs: -1, segments: 0, loud: false },
});

const tracks = [];             // every microphone track the page opened
Object.defineProperty(stats, "trackStates", { enumerable: true, get: () => tracks.map((track) => track.readyState) });

let ctx = null, mic = null, speaker = null, face = null;
let mode = "hands-free";
let sessionId = null;
let activeResponse = null;   // the response in progress
let cancelling = false;      // response.cancel was sent for it
let pendingCreate = false;   // a response.create waits for the active response to end
let awaiting = false;        // a turn was committed: its response is expected
let holding = false, heldMs = 0, heldSpeechMs = 0, pressedAt = 0;
let lastLoudAt = null;       // performance.now() of the last block of speech the microphone gave
let sentMs = 0, sentTimes = []; // [ms of audio sent this session, performance.now()]
let speechEnd = null;        // when the user's last turn ended (for the voice-to-voice latency)
let errorKind = null;
const measured = new Set();
const dropped = new Set();   // responses cut off: their late audio is not played
const responseItems = {};    // response id → its output item ids
const interrupted = new Set();
let conversationId = sessionStorage.getItem(CONVERSATION);

const conversation = new ConversationLog($("transcript"), (requestId, approve) => {
  send({ type: "conversation.item.create", item: { type: "mcp_approval_response", approval_request_id: requestId, approve } });
});
const events = new EventLog($("event-list"), $("event-filter"), $("event-count"));
const connection = new Connection({
  event: onEvent,
  sent: (event) => { stats.sent[event.type] = (stats.sent[event.type] || 0) + 1; events.add("client", event); },
  state: onConnectionState,
  failed: onConnectionFailed,
});

// --- messages ---------------------------------------------------------------------------------------------------

function showError(message, kind) {
  stats.errors.push(message);
  errorKind = kind;
  $("error-text").textContent = message;
  $("error").hidden = false;
}

/** Hides the message (only one of `kind`, when given). */
function hideError(kind) {
  if (kind && errorKind !== kind) return;
  errorKind = null;
  $("error").hidden = true;
}

function hint(text) { $("hint").textContent = text; }

// --- state ------------------------------------------------------------------------------------------------------

function agentState() {
  const state = connection.state;
  if (state === "connecting" || state === "reconnecting") return state;
  if (state !== "open") return "disconnected";
  if (!sessionId) return "connecting";
  if (speaker && speaker.speaking) return "speaking";
  if (activeResponse || awaiting || pendingCreate) return "thinking";
  return "listening";
}

function updateState() {
  const state = agentState();
  if (state !== stats.state) {
    stats.state = state;
    stats.states.push(state);
    $("state").dataset.state = state;
    $("state").textContent = LABELS[state];
    document.body.dataset.state = state;
  }
  const open = connection.isOpen && Boolean(sessionId);
  $("talk").disabled = !(open && mode === "push-to-talk");
  $("message").disabled = $("send").disabled = !open;
  $("mute").disabled = !(mic && mic.stream);
  $("connect").textContent = connection.wanted || connection.state !== "disconnected" ? "Disconnect" : "Connect";
}

function onConnectionState(state, detail) {
  if (state === "reconnecting" || state === "disconnected") endSession();
  if (state === "reconnecting") hint(detail ? `Reconnecting: ${detail}.` : "Reconnecting…");
  if (state === "disconnected" && mic && !connection.wanted) mic.close();
  updateState();
}

function onConnectionFailed(message, code, retrying) {
  showError(message, "connection");
  if (code === "invalid_api_key") {
    $("settings").open = true;
    $("key").focus();
  }
  if (!retrying && mic) mic.close();
  updateState();
}

/** What belonged to the session that ended (a drop or a disconnect): nothing plays on, the latency starts anew. */
function endSession() {
  sessionId = null;
  activeResponse = null;
  cancelling = pendingCreate = awaiting = holding = false;
  speechEnd = null;
  $("latency").textContent = "";
  $("talk").classList.remove("held");
  $("talk").setAttribute("aria-pressed", "false");
  if (speaker) speaker.stop();
}

// --- sending ----------------------------------------------------------------------------------------------------

function send(event) { return connection.send(event); }

function sessionUpdate() {
  let session;
  try {
    session = settings.sessionConfig(mode);
  } catch (error) {
    showError(error.message, "settings");
    return false;
  }
  return send({ type: "session.update", session });
}

/** The reply is asked for now, or as soon as the one in progress has ended. */
function createResponse() {
  awaiting = true;
  if (activeResponse) pendingCreate = true;
  else send({ type: "response.create" });
  updateState();
}

/** The user takes the turn: the reply in progress is cancelled (unless the server does it: `cancel` false), what
 * plays stops at once, and every item cut off is truncated at what was heard of it. */
function interrupt(cancel) {
  if (activeResponse) {
    dropped.add(activeResponse);
    if (cancel && !cancelling) {
      cancelling = true;
      send({ type: "response.cancel" });
    }
  }
  if (!speaker) return;
  const cut = speaker.stop();
  for (const [item, audioEndMs] of cut) {
    stats.cutAt[item] = performance.now();
    stats.truncates.push({ item, audio_end_ms: audioEndMs });
    send({ type: "conversation.item.truncate", item_id: item, content_index: 0, audio_end_ms: audioEndMs });
    face.forget(item);
  }
  if (cut.length) stats.bargeIns += 1;
  updateState();
}

// --- the microphone ---------------------------------------------------------------------------------------------

function onChunk(samples, capturedAt) {
  const ms = (samples.length / RATE) * 1000;
  const rms = level(samples);
  const input = stats.input;
  input.capturedMs += ms;
  stats.audioTime = capturedAt;
  $("level-in").value = Math.min(1, rms * 5);
  stats.peak.input = Math.max(stats.peak.input, rms);
  const loud = rms > SPEECH_LEVEL;
  if (loud) {
    if (input.capturedMs - input.lastLoudMs > QUIET_MS + ms) input.segments += 1;
    input.lastLoudMs = input.capturedMs;
    lastLoudAt = performance.now();
  }
  input.loud = input.capturedMs - input.lastLoudMs <= QUIET_MS;
  if (!connection.isOpen || !sessionId) return;
  if (mode === "push-to-talk" && !holding) return;
  if (holding) {
    heldMs += ms;
    if (loud) heldSpeechMs += ms;
  }
  send({ type: "input_audio_buffer.append", audio: pcm16Base64(samples) });
  sentMs += ms;
  stats.sentAudioMs += ms;
  sentTimes.push([sentMs, performance.now()]);
  if (sentTimes.length > 3000) sentTimes.splice(0, 1000);
}

/** When the audio up to `audioMs` of this session was sent. */
function sentAt(audioMs) {
  for (const [ms, at] of sentTimes) if (ms >= audioMs) return at;
  return performance.now();
}

function pressTalk() {
  if (mode !== "push-to-talk" || holding || !connection.isOpen || !sessionId) return;
  interrupt(true);
  send({ type: "input_audio_buffer.clear" });
  holding = true;
  heldMs = heldSpeechMs = 0;
  pressedAt = performance.now();
  $("talk").classList.add("held");
  $("talk").setAttribute("aria-pressed", "true");
  hint("");
  updateState();
}

function releaseTalk() {
  if (!holding) return;
  holding = false;
  $("talk").classList.remove("held");
  $("talk").setAttribute("aria-pressed", "false");
  if (heldMs < MIN_HOLD_MS || heldSpeechMs < MIN_SPEECH_MS) {
    stats.skippedHolds += 1;
    send({ type: "input_audio_buffer.clear" });
    hint("Nothing was heard: hold the button while you speak.");
    updateState();
    return;
  }
  speechEnd = lastLoudAt !== null && lastLoudAt >= pressedAt ? lastLoudAt : performance.now();
  stats.turns.push({ mode, speechEndMs: stats.input.lastLoudMs, endedMs: stats.input.capturedMs });
  send({ type: "input_audio_buffer.commit" });
  createResponse();
}

// --- the reply --------------------------------------------------------------------------------------------------

function onPlayed(report) {
  let total = 0;
  for (const n of Object.values(report.played)) total += n;
  stats.framesPlayed = total;
  stats.prebuffered = report.queuedAtStart;
  stats.underruns = report.underruns;
  $("level-out").value = Math.min(1, report.level * 5);
  stats.peak.output = Math.max(stats.peak.output, report.level);
  for (const [item, at] of Object.entries(report.started)) {
    if (measured.has(item)) continue;
    measured.add(item);
    if (speechEnd === null || speaker.cut.has(item)) continue;
    const latency = Math.round(speaker.heardAt(at) - speechEnd);
    stats.latencies.push(latency);
    $("latency").textContent = `voice-to-voice: ${latency} ms`;
    speechEnd = null;
  }
  updateState();
}

function animate() {
  face.frame(speaker);
  requestAnimationFrame(animate);
}

async function showTimings() {
  if (!sessionId) return;
  let body;
  try {
    const answer = await fetch(`/sessions/${encodeURIComponent(sessionId)}/turns`, {
      headers: settings.keyHeaders(), cache: "no-store",
    });
    if (!answer.ok) return;
    body = await answer.json();
  } catch {
    return;
  }
  for (const turn of body.turns || []) {
    const items = responseItems[turn.response_id];
    if (items) {
      conversation.timings(items, turn);
      stats.timings += 1;
    }
  }
}

// --- server events ----------------------------------------------------------------------------------------------

function onEvent(event) {
  stats.received[event.type] = (stats.received[event.type] || 0) + 1;
  events.add("server", event);
  switch (event.type) {
    case "session.created":
      sessionId = event.session.id;
      stats.session = sessionId;
      stats.sessions += 1;
      sentMs = 0;
      sentTimes = [];
      hideError("connection");
      hint("");
      sessionUpdate();
      break;
    case "conversation.created":
      conversationId = event.conversation.id;
      sessionStorage.setItem(CONVERSATION, conversationId);
      break;
    case "session.updated":
      hideError("settings");
      hideError("server");
      break;
    case "conversation.item.created":
    case "response.output_item.added":
    case "response.output_item.done":
      if (event.type === "response.output_item.added" && event.item.type === "message") {
        (responseItems[event.response_id] ||= []).push(event.item.id);
        if (dropped.has(event.response_id)) speaker.cutItem(event.item.id);
      }
      if (event.type !== "response.output_item.done" || event.item.type !== "message") conversation.item(event.item);
      break;
    case "input_audio_buffer.speech_started":
      stats.speechStarts += 1;
      speechEnd = null;
      interrupt(false);
      break;
    case "input_audio_buffer.speech_stopped":
      speechEnd = lastLoudAt !== null ? lastLoudAt : sentAt(event.audio_end_ms);
      stats.turns.push({ mode, speechEndMs: stats.input.lastLoudMs, endedMs: stats.input.capturedMs });
      awaiting = true;
      break;
    case "conversation.item.input_audio_transcription.delta":
      conversation.userPartial(event.item_id, event.delta);
      break;
    case "conversation.item.input_audio_transcription.completed":
      conversation.userFinal(event.item_id, event.transcript);
      break;
    case "conversation.item.input_audio_transcription.failed":
      conversation.userFinal(event.item_id, "(not understood)");
      break;
    case "response.created":
      activeResponse = event.response.id;
      cancelling = false;
      awaiting = false;
      responseItems[activeResponse] ||= [];
      break;
    case "response.audio_transcript.delta":
    case "response.text.delta":
    case "response.output_text.delta":
    case "response.output_audio_transcript.delta":
      if (!interrupted.has(event.item_id)) conversation.agentDelta(event.item_id, event.delta);
      break;
    case "response.audio.delta":
    case "response.output_audio.delta":
      if (dropped.has(event.response_id)) speaker.cutItem(event.item_id);
      else speaker.push(event.item_id, event.delta);
      break;
    case "response.audio.done":
    case "response.output_audio.done":
      speaker.end(event.item_id);
      break;
    case "response.animation_viseme.delta":
      face.add(event.item_id, event.audio_offset_ms, event.viseme_id);
      stats.visemes += 1;
      break;
    case "response.function_call_arguments.delta":
    case "response.mcp_call_arguments.delta":
      conversation.arguments(event.item_id, event.delta);
      break;
    case "conversation.item.truncated":
      interrupted.add(event.item_id);
      conversation.interrupted(event.item_id);
      if (speaker.unfinished().includes(event.item_id)) speaker.stop();
      speaker.cutItem(event.item_id);
      send({ type: "conversation.item.retrieve", item_id: event.item_id });
      break;
    case "conversation.item.retrieved": {
      const item = event.item;
      if (interrupted.has(item.id) && item.type === "message") {
        const part = (item.content || [])[0] || {};
        conversation.interrupted(item.id, part.transcript || "");
      }
      break;
    }
    case "response.done": {
      const response = event.response;
      if (response.id === activeResponse) activeResponse = null;
      cancelling = false;
      for (const item of response.output || []) {
        if (item.type === "message") speaker.end(item.id);
        if (interrupted.has(item.id)) send({ type: "conversation.item.retrieve", item_id: item.id });
      }
      if (response.status === "failed") {
        const error = (response.status_details || {}).error || {};
        showError(`The reply failed: ${error.message || "the server gave no reason"}`, "server");
      } else if (response.status === "completed") {
        hideError("server");
      }
      if (pendingCreate) {
        pendingCreate = false;
        send({ type: "response.create" });
      } else {
        awaiting = false;
      }
      showTimings();
      break;
    }
    case "error": {
      const error = event.error || {};
      if (error.code === "response_cancel_not_active") break;  // the reply had ended already: nothing to cancel
      if (error.code === "conversation_not_found") {
        hint("The earlier conversation was not found on the server; this is a new one.");
        break;
      }
      if (error.code === "conversation_already_has_active_response") { pendingCreate = true; break; }
      awaiting = false;
      showError(`The server refused a request: ${error.message}`, "server");
      break;
    }
  }
  updateState();
}

// --- connecting -------------------------------------------------------------------------------------------------

async function ensureAudio() {
  if (ctx) return;
  const context = new AudioContext({ sampleRate: RATE });
  await context.audioWorklet.addModule("/static/worklets.js");
  ctx = context;
  stats.audioContexts += 1;
  speaker = new Speaker(ctx, onPlayed);
  mic = new Microphone(ctx, onChunk);
  stats.captureNodes += 1;
  face = new Face($("mouth"), stats);
  requestAnimationFrame(animate);
}

async function openMicrophone() {
  await mic.open($("mic").value);
  stats.microphonesOpened += 1;
  tracks.push(...mic.tracks);
  await settings.listMicrophones(mic.deviceId);
}

async function start() {
  hideError();
  settings.save();
  $("connect").disabled = true;
  try {
    await ensureAudio();
    await ctx.resume();
    await openMicrophone();
  } catch (error) {
    $("connect").disabled = false;
    const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    showError(denied
      ? "The microphone is blocked. Allow it for this page (the icon in the address bar), then press Connect again."
      : error && error.name === "NotFoundError" ? "No microphone was found. Plug one in and press Connect again."
      : `The microphone could not be opened: ${error}`, "microphone");
    updateState();
    return;
  }
  $("connect").disabled = false;
  if (!$("voice").matches("select")) await settings.loadVoices();
  connection.conversationId = conversationId;
  connection.open();
  updateState();
}

function stop() {
  connection.close();
  if (mic) mic.close();
  hint("");
  updateState();
}

// --- controls ---------------------------------------------------------------------------------------------------

$("connect").addEventListener("click", () => {
  if (connection.wanted || connection.state !== "disconnected") stop();
  else start();
});

$("mute").addEventListener("click", () => {
  if (!mic) return;
  mic.setMuted(!mic.muted);
  $("mute").setAttribute("aria-pressed", String(mic.muted));
  $("mute").textContent = mic.muted ? "Unmute" : "Mute";
  if (mic.muted) $("level-in").value = 0;
});

for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", () => {
    if (!radio.checked) return;
    releaseTalk();
    mode = radio.value;
    sessionUpdate();
    hint(mode === "push-to-talk" ? "Hold the talk button while you speak." : "");
    updateState();
  });
}

const talk = $("talk");
talk.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  talk.setPointerCapture(event.pointerId);
  pressTalk();
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) talk.addEventListener(type, releaseTalk);
talk.addEventListener("keydown", (event) => {
  if (event.key !== " " && event.key !== "Enter") return;
  event.preventDefault();
  if (!event.repeat) pressTalk();
});
talk.addEventListener("keyup", (event) => {
  if (event.key !== " " && event.key !== "Enter") return;
  event.preventDefault();
  releaseTalk();
});
talk.addEventListener("blur", releaseTalk);
talk.addEventListener("contextmenu", (event) => event.preventDefault());

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || !connection.isOpen) return;
  if (activeResponse || (speaker && speaker.speaking)) interrupt(true);
  speechEnd = null;
  send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
  createResponse();
  $("message").value = "";
});

$("settings-form").addEventListener("submit", (event) => {
  event.preventDefault();
  settings.save();
  if (connection.isOpen && sessionId) sessionUpdate();
  else hint("Saved; used when you connect.");
});

$("mic").addEventListener("change", async () => {
  if (!mic || !mic.stream) return;
  try {
    await openMicrophone();
  } catch (error) {
    showError(`That microphone could not be opened: ${error}`, "microphone");
  }
});

$("error-dismiss").addEventListener("click", () => hideError());
$("event-clear").addEventListener("click", () => events.clear());

settings.restore();
updateState();
