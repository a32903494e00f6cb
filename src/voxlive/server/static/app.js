// The voxlive web page: microphone in (AudioWorklet, pcm16 24 kHz), the reply out through a jitter buffer,
// barge-in with a truncate at what was really heard, both transcripts, a face that follows the visemes,
// and the voice-to-voice latency of each turn as the page measures it.
const RATE = 24000;
const $ = (id) => document.getElementById(id);
const stats = (window.voxlive = { framesPlayed: 0, visemes: 0, mouthMoves: 0, latencies: [], errors: [] });
const MOUTH = [ // Azure viseme id → [rx, ry] of the mouth
  [28, 3], [26, 16], [28, 22], [22, 18], [26, 12], [22, 12], [30, 8], [14, 12], [16, 16], [26, 18], [20, 16],
  [26, 18], [24, 10], [18, 10], [24, 9], [30, 5], [20, 10], [26, 7], [26, 5], [26, 7], [24, 9], [26, 2],
];

let ws = null, ctx = null, player = null, capture = null;
let mode = "hands-free", talking = false, sentMs = 0;
const sent = [];             // [ms of audio sent, performance.now()]
let speechEnd = null;        // when the audio where the user stopped speaking was sent
const received = {};         // item id → samples received
const played = {};           // item id → samples played (as last reported)
const visemes = {};          // item id → [[offset ms, viseme id]]
const measured = new Set();  // items whose latency is known
let reportedAt = 0, playingItem = null, mouthShape = -1;
let conversationId = sessionStorage.getItem("voxlive.conversation");  // resumed after a reconnect or a reload

function showError(message) {
  stats.errors.push(message);
  $("error").textContent = message;
  $("error").hidden = false;
}
function setStatus(text) { $("status").textContent = text; }

function sessionConfig() {
  const handsFree = mode === "hands-free";
  return {
    modalities: ["text", "audio"], voice: $("voice").value, instructions: $("instructions").value,
    input_audio_format: "pcm16", input_audio_sampling_rate: RATE, output_audio_format: "pcm16",
    input_audio_transcription: { model: "whisper-1" }, animation: { outputs: ["viseme_id"] },
    turn_detection: handsFree
      ? { type: "server_vad", threshold: Number($("threshold").value), silence_duration_ms: Number($("silence").value) }
      : null,
  };
}

function send(event) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event)); }

function base64(int16) {
  const bytes = new Uint8Array(int16.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function line(id, kind) {
  let element = document.getElementById(id);
  if (!element) {
    element = document.createElement("p");
    element.id = id;
    element.className = `line ${kind}`;
    $("transcript").append(element);
  }
  return element;
}

function onEvent(event) {
  switch (event.type) {
    case "session.created": send({ type: "session.update", session: sessionConfig() }); break;
    case "conversation.created":
      conversationId = event.conversation.id;
      sessionStorage.setItem("voxlive.conversation", conversationId);
      break;
    case "conversation.item.created": showItem(event.item); break;
    case "session.updated": setStatus(mode === "hands-free" ? "listening" : "hold the button to talk"); break;
    case "input_audio_buffer.speech_started": bargeIn(); break;
    case "input_audio_buffer.speech_stopped": speechEnd = sentAt(event.audio_end_ms); break;
    case "conversation.item.input_audio_transcription.delta": {
      const element = line(`u-${event.item_id}`, "user partial");
      element.textContent += event.delta;
      break;
    }
    case "conversation.item.input_audio_transcription.completed": {
      const element = line(`u-${event.item_id}`, "user");
      element.className = "line user";
      element.textContent = event.transcript;
      break;
    }
    case "response.audio_transcript.delta": line(`a-${event.item_id}`, "agent").textContent += event.delta; break;
    case "response.audio.delta": {
      const bytes = Uint8Array.from(atob(event.delta), (c) => c.charCodeAt(0));
      const int16 = new Int16Array(bytes.buffer);
      const samples = Float32Array.from(int16, (v) => v / 32768);
      received[event.item_id] = (received[event.item_id] || 0) + samples.length;
      player.port.postMessage({ type: "audio", item: event.item_id, samples }, [samples.buffer]);
      break;
    }
    case "response.animation_viseme.delta":
      (visemes[event.item_id] ||= []).push([event.audio_offset_ms, event.viseme_id]);
      stats.visemes += 1;
      break;
    case "error": showError(`The server refused a request: ${event.error.message}`); break;
  }
}

// An item of the conversation: those of a resumed conversation come with their words (live ones get them later).
function showItem(item) {
  if (item.type !== "message" || item.role === "system") return;
  const part = (item.content || [])[0] || {};
  const text = part.transcript || part.text || "";
  const user = item.role === "user";
  if (text) {
    const element = line(`${user ? "u" : "a"}-${item.id}`, user ? "user" : "agent");
    if (!element.textContent) element.textContent = text;
  }
}

function sentAt(audioMs) {
  for (const [ms, at] of sent) if (ms >= audioMs) return at;
  return performance.now();
}

function bargeIn() {
  const item = playingItem;
  if (!item || (played[item] || 0) >= (received[item] || 0)) return;
  player.port.postMessage({ type: "clear" });
  const audioEndMs = Math.floor(((played[item] || 0) / RATE) * 1000);
  send({ type: "conversation.item.truncate", item_id: item, content_index: 0, audio_end_ms: audioEndMs });
  playingItem = null;
}

function onPlayed({ played: counts, started }) {
  let total = 0;
  for (const [item, n] of Object.entries(counts)) {
    played[item] = n;
    total += n;
    if (n < (received[item] || 0)) playingItem = item;
  }
  stats.framesPlayed = total;
  reportedAt = performance.now();
  for (const [item, at] of Object.entries(started)) {
    if (measured.has(item) || speechEnd === null) continue;
    measured.add(item);
    const heardAt = performance.now() - (ctx.currentTime - at) * 1000;
    const latency = Math.round(heardAt - speechEnd);
    stats.latencies.push(latency);
    $("latency").textContent = `voice-to-voice: ${latency} ms`;
    speechEnd = null;
  }
}

function animate() {
  let shape = 0;
  const item = playingItem;
  if (item && visemes[item]) {
    const ms = ((played[item] || 0) / RATE) * 1000 + (performance.now() - reportedAt);
    for (const [offset, id] of visemes[item]) if (offset <= ms) shape = id;
  }
  if (shape !== mouthShape) {
    mouthShape = shape;
    stats.mouthMoves += 1;
    const [rx, ry] = MOUTH[shape] || MOUTH[0];
    $("mouth").setAttribute("rx", rx);
    $("mouth").setAttribute("ry", ry);
  }
  requestAnimationFrame(animate);
}

async function start() {
  $("error").hidden = true;
  $("start").disabled = true;
  try {
    ctx = new AudioContext({ sampleRate: RATE });
    await ctx.audioWorklet.addModule("/static/worklets.js");
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    player = new AudioWorkletNode(ctx, "player");
    player.port.onmessage = ({ data }) => onPlayed(data);
    player.connect(ctx.destination);
    capture = new AudioWorkletNode(ctx, "capture");
    const silent = ctx.createGain();
    silent.gain.value = 0;
    ctx.createMediaStreamSource(stream).connect(capture).connect(silent).connect(ctx.destination);
    capture.port.onmessage = ({ data }) => {
      if (mode === "push-to-talk" && !talking) return;
      const int16 = Int16Array.from(data, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
      send({ type: "input_audio_buffer.append", audio: base64(int16) });
      sentMs += (data.length / RATE) * 1000;
      sent.push([sentMs, performance.now()]);
      if (sent.length > 3000) sent.splice(0, 1000);
    };
  } catch (error) {
    $("start").disabled = false;
    const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    showError(denied
      ? "The microphone is blocked. Allow it for this page (the icon in the address bar), then press Start again."
      : error && error.name === "NotFoundError" ? "No microphone was found. Plug one in and press Start again."
      : `The microphone could not be opened: ${error}`);
    return;
  }
  connect();
  requestAnimationFrame(animate);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const resume = conversationId ? `&conversation-id=${encodeURIComponent(conversationId)}` : "";
  const url = `${scheme}://${location.host}/voice-live/realtime?api-version=2025-10-01&model=voxlive-local${resume}`;
  let opened = false;
  setStatus("connecting…");
  ws = new WebSocket(url);
  ws.onopen = () => { opened = true; $("talk").disabled = mode !== "push-to-talk"; };
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = () => {
    setStatus("not connected");
    $("start").disabled = false;
    showError(opened
      ? "The connection to the voxlive server was lost. Press Start to reconnect."
      : `The voxlive server at ${location.host} cannot be reached. Is \`voxlive serve\` running?`);
  };
}

function setMode(value) {
  mode = value;
  $("talk").disabled = !(mode === "push-to-talk" && ws && ws.readyState === WebSocket.OPEN);
  send({ type: "session.update", session: sessionConfig() });
}

function pressTalk() {
  if (mode !== "push-to-talk") return;
  bargeIn();
  send({ type: "input_audio_buffer.clear" });
  talking = true;
  setStatus("listening…");
}
function releaseTalk() {
  if (!talking) return;
  talking = false;
  speechEnd = performance.now();
  send({ type: "input_audio_buffer.commit" });
  send({ type: "response.create" });
  setStatus("hold the button to talk");
}

$("start").addEventListener("click", start);
for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", () => setMode(radio.value));
$("talk").addEventListener("pointerdown", pressTalk);
$("talk").addEventListener("pointerup", releaseTalk);
$("talk").addEventListener("pointerleave", releaseTalk);
$("apply").addEventListener("click", () => send({ type: "session.update", session: sessionConfig() }));
