// The conversation log (both sides' words, tool and MCP calls with their arguments and results, approvals, and
// each turn's stage timings) and the event log (every client and server event, newest last, audio elided).
import { element } from "./dom.js";

const STAGES = {
  end_of_turn: "end of turn", stt: "STT", transcript: "transcript", llm_ttft: "LLM first token",
  first_chunk: "first phrase", tts_first_audio: "TTS first audio", voice_to_voice: "voice-to-voice",
};

function pretty(text) {
  if (text === undefined || text === null || text === "") return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return String(text); }
}

export class ConversationLog {
  constructor(container, onApproval) {
    this.container = container;
    this.onApproval = onApproval;
  }

  add(node) {
    const atEnd = this.container.scrollHeight - this.container.scrollTop - this.container.clientHeight < 40;
    this.container.append(node);
    if (atEnd) this.container.scrollTop = this.container.scrollHeight;
    return node;
  }

  /** The line of a message item, made (at the end) the first time. */
  line(itemId, user) {
    const id = `${user ? "u" : "a"}-${itemId}`;
    let node = document.getElementById(id);
    if (!node) {
      node = element("p", `line ${user ? "user" : "agent"}`);
      node.id = id;
      node.append(element("span", "who", user ? "you: " : "agent: "), element("span", "words"));
      this.add(node);
    }
    return node;
  }

  words(itemId, user) { return this.line(itemId, user).querySelector(".words"); }

  userPartial(itemId, delta) {
    const node = this.line(itemId, true);
    if (!node.classList.contains("final")) node.classList.add("partial");
    node.querySelector(".words").textContent += delta;
  }

  userFinal(itemId, text) {
    const node = this.line(itemId, true);
    node.classList.remove("partial");
    node.classList.add("final");
    node.querySelector(".words").textContent = text;
  }

  agentDelta(itemId, delta) {
    const node = this.line(itemId, false);
    if (node.classList.contains("interrupted")) return;
    node.querySelector(".words").textContent += delta;
  }

  /** An agent message cut off: only the words that were heard stay (once the server says which), marked. */
  interrupted(itemId, heard) {
    const node = this.line(itemId, false);
    if (!node.classList.contains("interrupted")) {
      node.classList.add("interrupted");
      node.append(element("span", "mark", " — interrupted"));
    }
    if (typeof heard === "string") node.querySelector(".words").textContent = heard;
  }

  /** An item of the conversation, as created (a resumed conversation's items come with their words). */
  item(item) {
    if (!item || !item.id) return;
    if (item.type === "message") {
      if (item.role === "system") return;
      const user = item.role === "user";
      const part = (item.content || [])[0] || {};
      const text = part.transcript || part.text || "";
      if (user && part.type === "input_audio" && !text) {
        const node = this.line(item.id, true);
        if (!node.classList.contains("final")) node.classList.add("partial");
        return;
      }
      if (text) {
        const words = this.words(item.id, user);
        if (!words.textContent) words.textContent = text;
        if (user) this.userFinal(item.id, text);
      }
      return;
    }
    this.tool(item);
  }

  /** A tool or MCP item: its name, arguments, result, and for an approval request, the buttons. */
  tool(item) {
    const known = ["function_call", "function_call_output", "mcp_call", "mcp_list_tools", "mcp_approval_request",
      "mcp_approval_response"];
    if (!known.includes(item.type)) return;
    let card = document.getElementById(`i-${item.id}`);
    if (!card) {
      card = element("div", `tool ${item.type.replaceAll("_", "-")}`);
      card.id = `i-${item.id}`;
      this.add(card);
    }
    card.replaceChildren();
    const title = element("p", "tool-title");
    const args = element("pre", "tool-args");
    const result = element("pre", "tool-result");
    if (item.type === "mcp_list_tools") {
      const names = (item.tools || []).map((tool) => tool.name).join(", ") || "none";
      title.textContent = `Tools of ${item.server_label}: ${names}`;
      card.append(title);
      return;
    }
    if (item.type === "mcp_approval_response") {
      title.textContent = `${item.approve ? "Approved" : "Denied"} (${item.approval_request_id})`;
      card.append(title);
      return;
    }
    if (item.type === "function_call_output") {
      title.textContent = `Function result (${item.call_id})`;
      result.textContent = pretty(item.output);
      card.append(title, result);
      return;
    }
    const where = item.server_label ? `${item.server_label} · ` : "";
    const kind = item.type === "function_call" ? "Function call" : item.type === "mcp_call" ? "MCP call" : "Approval needed";
    title.append(`${kind}: `, element("code", "", `${where}${item.name}`));
    card.append(title);
    args.textContent = pretty(item.arguments);
    args.setAttribute("aria-label", "arguments");
    if (args.textContent) card.append(args);
    if (item.type === "mcp_call") {
      if (item.error) result.textContent = `failed: ${typeof item.error === "string" ? item.error : item.error.message || JSON.stringify(item.error)}`;
      else if (item.output !== undefined && item.output !== null) result.textContent = `→ ${pretty(item.output)}`;
      else result.textContent = "running…";
      result.setAttribute("aria-label", "result");
      card.append(result);
    }
    if (item.type === "mcp_approval_request") {
      const buttons = element("div", "approval");
      const approve = element("button", "approve", "Approve");
      const deny = element("button", "deny", "Deny");
      approve.type = deny.type = "button";
      const answer = (yes) => {
        approve.disabled = deny.disabled = true;
        buttons.append(element("span", "answered", yes ? " approved" : " denied"));
        this.onApproval(item.id, yes);
      };
      approve.addEventListener("click", () => answer(true));
      deny.addEventListener("click", () => answer(false));
      buttons.append(approve, deny);
      card.append(buttons);
    }
  }

  /** Arguments as they stream in. */
  arguments(itemId, delta) {
    const card = document.getElementById(`i-${itemId}`);
    const args = card && card.querySelector(".tool-args");
    if (args) args.textContent += delta;
  }

  /** A turn's stage timings, as the server measured them, under the reply. */
  timings(itemIds, turn) {
    const stages = turn.stages_ms || {};
    const parts = Object.entries(STAGES).filter(([name]) => name in stages)
      .map(([name, label]) => `${label} ${Math.round(stages[name])} ms`);
    if (!parts.length) return;
    const anchor = itemIds.map((id) => document.getElementById(`a-${id}`) || document.getElementById(`i-${id}`))
      .filter(Boolean).pop();
    if (!anchor) return;
    const id = `t-${turn.response_id}`;
    let node = document.getElementById(id);
    if (!node) {
      node = element("p", "timings");
      node.id = id;
      anchor.after(node);
    }
    node.textContent = `server: ${parts.join(" · ")}`;
  }

  clear() { this.container.replaceChildren(); }
}

// --- the event log ---------------------------------------------------------------------------------------------

export const MAX_EVENTS = 500;
const LONG = 2000;

/** A copy of an event fit to show: audio (base64) elided, very long strings cut. */
export function elide(event) {
  const walk = (value, key, audio) => {
    if (typeof value === "string") {
      if ((key === "audio" || (audio && key === "delta")) && value.length > 16) return `‹${value.length} characters of base64 audio›`;
      return value.length > LONG ? `${value.slice(0, LONG)}‹ ${value.length - LONG} more characters›` : value;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, "", audio));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k, audio)]));
    }
    return value;
  };
  return walk(event, "", typeof event.type === "string" && /audio\.delta$|audio_buffer\.append$/.test(event.type));
}

function clock(date) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export class EventLog {
  constructor(list, filter, count) {
    this.list = list;
    this.filter = filter;
    this.count = count;
    this.total = 0;
    this.last = null;
    filter.addEventListener("input", () => { for (const node of this.list.children) this.show(node); });
  }

  show(node) {
    const wanted = this.filter.value.trim().toLowerCase();
    node.hidden = Boolean(wanted) && !node.dataset.type.toLowerCase().includes(wanted);
  }

  /** Logs an event sent ("client") or received ("server"); a run of the same type is one entry with a count. */
  add(direction, event) {
    this.total += 1;
    this.count.textContent = `(${this.total})`;
    const type = String(event.type || "(no type)");
    const last = this.last;
    if (last && last.direction === direction && last.type === type) {
      last.times += 1;
      last.event = event;
      last.node.querySelector(".times").textContent = `×${last.times}`;
      last.node.querySelector("time").textContent = clock(new Date());
      if (last.details.open) last.pre.textContent = JSON.stringify(elide(event), null, 2);
      return;
    }
    const node = element("li", `event ${direction}`);
    node.dataset.type = type;
    const details = element("details");
    const summary = element("summary");
    summary.append(element("time", "", clock(new Date())), " ", element("span", "dir", direction), " ",
      element("code", "type", type), " ", element("span", "times"));
    const pre = element("pre", "json");
    details.append(summary, pre);
    node.append(details);
    const entry = { direction, type, times: 1, event, node, details, pre };
    details.addEventListener("toggle", () => {
      if (details.open) pre.textContent = JSON.stringify(elide(entry.event), null, 2);
    });
    this.show(node);
    const atEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.append(node);
    while (this.list.children.length > MAX_EVENTS) this.list.firstElementChild.remove();
    if (atEnd) this.list.scrollTop = this.list.scrollHeight;
    this.last = entry;
  }

  clear() {
    this.list.replaceChildren();
    this.last = null;
    this.total = 0;
    this.count.textContent = "";
  }
}

