// Capture: posts the microphone's samples (Float32, the context's rate) in blocks of ~40 ms, each with the
// context's time at its end.
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
        this.port.postMessage({ samples: out, time: currentTime + input.length / sampleRate }, [out.buffer]);
        this.block = []; this.count = 0;
      }
    }
    return true;
  }
}

// Player: a jitter buffer. Audio is queued per item and played without gaps. Each item starts only once
// `prebuffer` samples of it are queued (or all of it is: "end"), and so does an item that ran dry mid-way,
// so a slow server makes the reply start a little later instead of breaking it up mid-word. "clear" stops at once.
// It reports, every ~50 ms and at each start, stop and clear: how much of each item was played, when an item's
// first sample played (and how much of it was queued then), the item playing, underruns and the output level.
class Player extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.prebuffer = Math.round(sampleRate * ((options.processorOptions || {}).prebufferMs || 150) / 1000);
    this.queue = []; this.offset = 0; this.ended = new Set(); this.waiting = true;
    this.played = {}; this.started = {}; this.queuedAtStart = {}; this.underruns = 0;
    this.playing = null; this.sinceReport = 0; this.energy = 0; this.measured = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") this.queue.push({ item: data.item, samples: data.samples });
      else if (data.type === "end") this.ended.add(data.item);
      else if (data.type === "clear") {
        this.queue = []; this.offset = 0; this.waiting = true; this.playing = null; this.report();
      }
    };
  }
  queued(item) {
    let n = -this.offset;
    for (const part of this.queue) { if (part.item !== item) break; n += part.samples.length; }
    return n;
  }
  report() {
    const level = this.measured ? Math.sqrt(this.energy / this.measured) : 0;
    this.energy = 0; this.measured = 0;
    this.port.postMessage({
      type: "played", played: { ...this.played }, started: { ...this.started }, queuedAtStart: { ...this.queuedAtStart },
      playing: this.playing, underruns: this.underruns, level,
    });
  }
  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length) {
      const head = this.queue[0];
      if (this.waiting) {
        const queued = this.queued(head.item);
        if (queued < this.prebuffer && !this.ended.has(head.item)) break;
        this.waiting = false;
        this.playing = head.item;
        if (!(head.item in this.started)) {
          this.started[head.item] = currentTime + i / sampleRate;
          this.queuedAtStart[head.item] = Math.round((queued / sampleRate) * 1000);
        }
        this.report();
      }
      const n = Math.min(out.length - i, head.samples.length - this.offset);
      out.set(head.samples.subarray(this.offset, this.offset + n), i);
      i += n; this.offset += n;
      this.played[head.item] = (this.played[head.item] || 0) + n;
      if (this.offset >= head.samples.length) {
        this.queue.shift(); this.offset = 0;
        const next = this.queue[0];
        if (!next || next.item !== head.item) {  // this item is done for now: the next waits for its own buffer
          if (!next && !this.ended.has(head.item)) this.underruns += 1;
          this.waiting = true; this.playing = null; this.report();
        }
      }
    }
    out.fill(0, i);
    for (let k = 0; k < i; k++) this.energy += out[k] * out[k];
    this.measured += out.length;
    this.sinceReport += out.length;
    if (this.sinceReport >= sampleRate / 20) { this.sinceReport = 0; this.report(); }
    return true;
  }
}

registerProcessor("capture", Capture);
registerProcessor("player", Player);
