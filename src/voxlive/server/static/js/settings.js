// The settings panel: the API key (kept in this tab's sessionStorage, never in the address), the microphone,
// the voice (a picker filled from GET /voices, or a text field where the server has no such route), turn
// detection, instructions and any further session fields; and the session.update they make.
import { $ } from "./dom.js";

export const RATE = 24000;
const KEY = "voxlive.key";
const SAVED = "voxlive.settings";
const FIELDS = ["threshold", "silence", "instructions", "extra"];

export function apiKey() { return sessionStorage.getItem(KEY) || ""; }

export function keyHeaders() {
  const key = apiKey();
  return key ? { "api-key": key } : {};
}

/** Saves the key field (and the other fields, in localStorage) so a reload or a reconnect uses them. */
export function save() {
  const key = $("key").value.trim();
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  const values = Object.fromEntries(FIELDS.map((id) => [id, $(id).value]));
  values.voice = $("voice").value;
  localStorage.setItem(SAVED, JSON.stringify(values));
}

export function restore() {
  $("key").value = apiKey();
  let values = {};
  try { values = JSON.parse(localStorage.getItem(SAVED) || "{}"); } catch { values = {}; }
  for (const id of FIELDS) if (typeof values[id] === "string") $(id).value = values[id];
  if (typeof values.voice === "string" && values.voice) $("voice").value = values.voice;
}

/** The extra session fields, or throws an Error that says what is wrong with them. */
function extraFields() {
  const text = $("extra").value.trim();
  if (!text) return {};
  let value;
  try { value = JSON.parse(text); } catch (error) { throw new Error(`The extra session fields are not JSON: ${error.message}`); }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("The extra session fields must be a JSON object.");
  return value;
}

export function sessionConfig(mode) {
  const handsFree = mode === "hands-free";
  const instructions = $("instructions").value.trim();
  return {
    modalities: ["text", "audio"], voice: $("voice").value, ...(instructions ? { instructions } : {}),
    input_audio_format: "pcm16", input_audio_sampling_rate: RATE, output_audio_format: "pcm16",
    input_audio_transcription: { model: "whisper-1" }, animation: { outputs: ["viseme_id"] },
    turn_detection: handsFree
      ? { type: "server_vad", threshold: Number($("threshold").value), silence_duration_ms: Number($("silence").value) }
      : null,
    ...extraFields(),
  };
}

/** Fills the voice picker from GET /voices; a server without that route keeps the text field. */
export async function loadVoices() {
  let answer;
  try {
    answer = await fetch("/voices", { headers: keyHeaders(), cache: "no-store" });
  } catch {
    return false;
  }
  if (!answer.ok) return false;
  let body;
  try { body = await answer.json(); } catch { return false; }
  const voices = Array.isArray(body.voices) ? body.voices : [];
  if (!voices.length) return false;
  const current = $("voice").value;
  const select = document.createElement("select");
  select.id = "voice";
  for (const voice of voices) {
    const option = document.createElement("option");
    option.value = voice.name;
    option.textContent = voice.language ? `${voice.name} (${voice.language})` : voice.name;
    select.append(option);
  }
  const names = voices.map((voice) => voice.name);
  select.value = names.includes(current) ? current : names.includes(body.default) ? body.default : names[0];
  $("voice").replaceWith(select);
  return true;
}

/** Lists the microphones (their names are known once the page may use one). */
export async function listMicrophones(current) {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
  const select = $("mic");
  const chosen = select.value;
  select.replaceChildren();
  const inputs = devices.filter((device) => device.kind === "audioinput");
  for (const [index, device] of inputs.entries()) {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `Microphone ${index + 1}`;
    select.append(option);
  }
  if (!inputs.length) {
    const option = document.createElement("option");
    option.value = "";
    option.textContent = "Default microphone";
    select.append(option);
  }
  const ids = inputs.map((device) => device.deviceId);
  select.value = ids.includes(current) ? current : ids.includes(chosen) ? chosen : select.options[0].value;
}
