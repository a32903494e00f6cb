// Capture: posts the microphone's samples (Float32, the context's rate) in blocks of ~40 ms.
class Capture extends AudioWorkletProcessor {
  constructor() { super(); this.block = []; this.size = Math.round(sampleRate * 0.04); this.count = 0; }
  process(inputs) {
    const input = inputs[0][0];
    if (input) {
      this.block.push(new Float32Array(input));
      this.count += input.length;
      if (this.count >= this.size) {
        const out = new Float32Array(this.count);
        let offset = 0;
        for (const part of this.block) { out.set(part, offset); offset += part.length; }
        this.port.postMessage(out, [out.buffer]);
        this.block = []; this.count = 0;
      }
    }
    return true;
  }
}

// Player: a jitter buffer. Audio is queued per item and played without gaps; "clear" stops at once.
// It reports, every ~50 ms, how much of each item was played, and when an item's first sample played.
class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; this.offset = 0; this.played = {}; this.started = {}; this.sinceReport = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") this.queue.push({ item: data.item, samples: data.samples });
      if (data.type === "clear") { this.queue = []; this.offset = 0; this.report(); }
    };
  }
  report() { this.port.postMessage({ type: "played", played: { ...this.played }, started: { ...this.started } }); }
  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length) {
      const head = this.queue[0];
      if (!(head.item in this.started)) { this.started[head.item] = currentTime + i / sampleRate; this.report(); }
      const n = Math.min(out.length - i, head.samples.length - this.offset);
      out.set(head.samples.subarray(this.offset, this.offset + n), i);
      i += n; this.offset += n;
      this.played[head.item] = (this.played[head.item] || 0) + n;
      if (this.offset >= head.samples.length) { this.queue.shift(); this.offset = 0; }
    }
    out.fill(0, i);
    this.sinceReport += out.length;
    if (this.sinceReport >= sampleRate / 20) { this.sinceReport = 0; this.report(); }
    return true;
  }
}

registerProcessor("capture", Capture);
registerProcessor("player", Player);
