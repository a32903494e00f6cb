// The microphone: one capture worklet for the page's lifetime, fed by whichever microphone is open. Opening
// another microphone (or the same one again) replaces the source; closing stops its tracks, so the browser
// shows the microphone as free.
export class Microphone {
  constructor(ctx, onChunk) {
    this.ctx = ctx;
    this.stream = null;
    this.source = null;
    this.muted = false;
    this.node = new AudioWorkletNode(ctx, "capture");
    const silent = ctx.createGain();
    silent.gain.value = 0;
    this.node.connect(silent).connect(ctx.destination);
    this.node.port.onmessage = ({ data }) => { if (this.stream && !this.muted) onChunk(data.samples, data.time); };
  }

  async open(deviceId) {
    const audio = { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    if (deviceId) audio.deviceId = { exact: deviceId };
    const stream = await navigator.mediaDevices.getUserMedia({ audio });
    this.close();
    this.stream = stream;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.source.connect(this.node);
    this.setMuted(this.muted);
  }

  close() {
    if (this.source) this.source.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.source = null;
    this.stream = null;
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.stream) for (const track of this.stream.getAudioTracks()) track.enabled = !muted;
  }

  get tracks() { return this.stream ? this.stream.getAudioTracks() : []; }

  get deviceId() {
    const [track] = this.tracks;
    return track ? track.getSettings().deviceId || "" : "";
  }
}

/** The RMS level of a block of samples, 0 to 1. */
export function level(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / Math.max(1, samples.length));
}

export function pcm16Base64(samples) {
  const int16 = Int16Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
  const bytes = new Uint8Array(int16.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
