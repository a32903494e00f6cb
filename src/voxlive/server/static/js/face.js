// The face: its mouth follows the visemes of the item playing now, and closes as soon as nothing plays
// (between replies, while a reply waits for audio, and the moment a reply is cut off).
import { RATE } from "./settings.js";

const MOUTH = [ // Azure viseme id → [rx, ry] of the mouth
  [28, 3], [26, 16], [28, 22], [22, 18], [26, 12], [22, 12], [30, 8], [14, 12], [16, 16], [26, 18], [20, 16],
  [26, 18], [24, 10], [18, 10], [24, 9], [30, 5], [20, 10], [26, 7], [26, 5], [26, 7], [24, 9], [26, 2],
];

export class Face {
  constructor(mouth, stats) {
    this.mouth = mouth;
    this.stats = stats;
    this.visemes = {};   // item → [[offset ms, viseme id]]
    this.shape = 0;
    this.item = null;
  }

  add(item, offsetMs, id) { (this.visemes[item] ||= []).push([offsetMs, id]); }

  forget(item) { delete this.visemes[item]; }

  /** One frame: `speaker` says which item plays and how far it got. */
  frame(speaker) {
    const item = speaker.playing;
    let shape = 0;
    if (item && this.visemes[item]) {
      const ms = ((speaker.played[item] || 0) / RATE) * 1000 + Math.min(60, performance.now() - speaker.reportedAt);
      for (const [offset, id] of this.visemes[item]) if (offset <= ms) shape = id;
    }
    if (shape) this.stats.openFor[item] = performance.now();
    if (shape === this.shape && item === this.item) return;
    if (shape !== this.shape) this.stats.mouthMoves += 1;
    this.shape = shape;
    this.item = shape ? item : null;
    const [rx, ry] = MOUTH[shape] || MOUTH[0];
    this.mouth.setAttribute("rx", rx);
    this.mouth.setAttribute("ry", ry);
  }
}
