// The reply's audio: a jitter buffer in a worklet (with a short pre-buffer before each reply starts), what was
// received and played of each item, which items were cut off (their late audio is dropped), and when each
// item's first sample was heard.
import { RATE } from "./settings.js";

export const PREBUFFER_MS = 150;

export class Speaker {
  constructor(ctx, onReport) {
    this.ctx = ctx;
    this.node = new AudioWorkletNode(ctx, "player", { processorOptions: { prebufferMs: PREBUFFER_MS } });
    this.node.connect(ctx.destination);
    this.received = {};      // item → samples received
    this.played = {};        // item → samples played (as last reported)
    this.queuedAtStart = {}; // item → ms queued when its first sample played
    this.order = [];         // items in the order their audio came
    this.ended = new Set();  // items whose audio is complete
    this.cut = new Set();    // items cut off: nothing more of them is played
    this.playing = null;     // the item playing now (null between items and while buffering)
    this.level = 0;
    this.underruns = 0;
    this.reportedAt = performance.now();
    this.node.port.onmessage = ({ data }) => {
      this.played = data.played;
      this.queuedAtStart = data.queuedAtStart;
      this.playing = data.playing && !this.cut.has(data.playing) ? data.playing : null;
      this.level = data.level;
      this.underruns = data.underruns;
      this.reportedAt = performance.now();
      onReport(data);
    };
  }

  /** Queues base64 pcm16 audio of an item; the audio of a cut item is dropped. */
  push(item, base64) {
    if (this.cut.has(item)) return false;
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const int16 = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
    const samples = Float32Array.from(int16, (v) => v / 32768);
    if (!(item in this.received)) this.order.push(item);
    this.received[item] = (this.received[item] || 0) + samples.length;
    this.node.port.postMessage({ type: "audio", item, samples }, [samples.buffer]);
    return true;
  }

  end(item) {
    this.ended.add(item);
    this.node.port.postMessage({ type: "end", item });
  }

  heardMs(item) { return Math.floor(((this.played[item] || 0) / RATE) * 1000); }

  /** Every sample of the item has come and been played. */
  finished(item) { return this.ended.has(item) && (this.played[item] || 0) >= (this.received[item] || 0); }

  /** The items whose audio has begun to come and is not all heard yet (nor cut). */
  unfinished() { return this.order.filter((item) => !this.cut.has(item) && !this.finished(item)); }

  /** The agent is speaking: an item plays, or one is part-way and waits for more of its audio. */
  get speaking() {
    if (this.playing) return true;
    return this.unfinished().some((item) => (this.played[item] || 0) > 0);
  }

  /** Stops at once; the unfinished items are cut. Returns each with how much of it was heard. */
  stop() {
    const heard = this.unfinished().map((item) => [item, this.heardMs(item)]);
    for (const [item] of heard) this.cut.add(item);
    this.node.port.postMessage({ type: "clear" });
    this.playing = null;
    return heard;
  }

  cutItem(item) { this.cut.add(item); if (this.playing === item) this.playing = null; }

  /** When (performance.now()) the first sample of an item that started at the context's time `at` was heard. */
  heardAt(at) {
    const outputLatency = (this.ctx.outputLatency || 0) * 1000;
    return performance.now() - (this.ctx.currentTime - at) * 1000 + outputLatency;
  }

  /** Forgets everything about what was played (a new session). */
  reset() {
    this.stop();
    this.received = {}; this.order = []; this.ended = new Set();
  }
}
