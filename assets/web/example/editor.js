// The example editor: what an integrator's page does with the Orion Bridge
// JS client. It connects (from a click when the browser would ask for the
// Local Network Access permission), shows the status and every failure in
// words, sends text and binary messages, and tells the shop page its status.
//
// The DOM is built with textContent only: nothing from the engine, the
// bridge or the URL is ever parsed as HTML.

import { connect, localNetworkPermission, message, QueueFullError } from "/client.js";

const $ = (id) => document.getElementById(id);

const TITLES = {
  "not-running": "Orion Bridge isn't running",
  "certificate": "Orion Bridge's certificate isn't trusted",
  "origin": "This site isn't allowed to use Orion Bridge",
  "token": "Orion Bridge refused the access token",
  "engine-down": "The report engine isn't running",
  "too-large": "A message was too large",
  "permission": "Local network access is blocked",
};

const STATUS_TEXT = {
  idle: "Starting…",
  waiting: "Not connected",
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
};

const CLOSE_MEANING = {
  1000: "the engine ended the session",
  1001: "Orion Bridge is stopping",
  1006: "the connection dropped",
  1009: "a message was too large",
  1011: "the engine connection failed",
  1013: "the engine is not running",
};

// ---- settings from the shop ------------------------------------------

function settings() {
  const q = new URLSearchParams(location.search);
  const s = { route: "/ws", ports: undefined, token: "", shop: "" };
  const route = q.get("route");
  if (route && route.charAt(0) === "/") s.route = route;
  const ports = (q.get("ports") || "").split(",").map((p) => Number(p.trim())).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
  if (ports.length) s.ports = ports;
  s.token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  try {
    const shop = new URL(q.get("shop") || "");
    if (shop.protocol === "http:" || shop.protocol === "https:") s.shop = shop.origin;
  } catch (e) {
    // No shop to tell.
  }
  return s;
}

const cfg = settings();
let client = null;
let received = 0;
let lastReason = ""; // the failure last logged, so retries do not repeat it

// ---- small DOM helpers -------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function clock(d) {
  return d.toTimeString().slice(0, 8);
}

function capital(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

function hex(bytes, max) {
  const n = Math.min(bytes.length, max);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(bytes[i].toString(16).padStart(2, "0"));
  return parts.join(" ") + (bytes.length > n ? " …" : "");
}

function log(kind, text, detail, type) {
  const list = $("log");
  const li = el("li", "entry entry-" + kind);
  li.dataset.kind = kind;
  if (type) li.dataset.type = type;
  li.appendChild(el("span", "time", clock(new Date())));
  li.appendChild(el("span", "dir", { sent: "→", queued: "⋯", recv: "←", close: "×", open: "✓", error: "!" }[kind] || "•"));
  const body = el("div", "body");
  body.appendChild(el("div", "text", text));
  if (detail) body.appendChild(el("div", "detail", detail));
  li.appendChild(body);
  list.appendChild(li);
  while (list.childNodes.length > 300) list.removeChild(list.firstChild);
  list.scrollTop = list.scrollHeight;
}

// ---- status --------------------------------------------------------------

function tellShop(status, failure) {
  if (!cfg.shop || window.parent === window) return;
  window.parent.postMessage({
    type: "orion-editor-status",
    status,
    reason: failure ? failure.reason : "",
    message: failure ? failure.message : "",
  }, cfg.shop);
}

function showStatus(status) {
  document.body.dataset.status = status;
  const pill = $("status");
  pill.textContent = STATUS_TEXT[status] || status;
  pill.className = "pill pill-" + ({ open: "ok", connecting: "warn", reconnecting: "warn", closed: "bad" }[status] || "idle");
  $("endpoint").textContent = client && client.url ? client.url : "";
  if (status === "open") showFailure(null);
  tellShop(status, status === "open" ? null : client && client.failure);
}

function showFailure(f) {
  document.body.dataset.reason = f ? f.reason : "";
  $("failure").hidden = !f;
  if (!f) return;
  $("failure-title").textContent = TITLES[f.reason] || f.reason;
  // message() says it in the browser's language (English, Korean), from
  // the catalogues Orion Bridge ships; f.message is always English.
  $("failure-message").textContent = capital(message(f.reason)) + ".";
  $("failure-detail").textContent = f.detail || "";
  $("failure-detail").hidden = !f.detail;
  $("failure-reason").textContent = f.reason;
  $("failure-retry").textContent = "Retrying by itself";
}

function updateCounters() {
  $("queued").textContent = String(client ? client.queued : 0);
  $("received").textContent = String(received);
  $("route").textContent = cfg.route;
  $("port").textContent = client && client.port ? String(client.port) : "—";
}

// ---- the client ------------------------------------------------------------

function start() {
  $("gate").hidden = true;
  if (client) return;
  client = connect({ route: cfg.route, ports: cfg.ports, token: cfg.token || undefined });
  client.on("status", (e) => {
    showStatus(e.detail.status);
    if (e.detail.status === "open") {
      lastReason = "";
      log("open", "Connected to " + client.url, "The queue is sent first; " + client.queued + " message(s) waiting.");
    } else if (e.detail.status === "reconnecting" && e.detail.previous === "open") {
      log("info", "Reconnecting by itself…");
    }
    updateCounters();
  });
  client.on("failure", (e) => {
    const f = e.detail;
    showFailure(f);
    tellShop(client.status, f);
    // One log line per new reason: each retry with the same one stays quiet.
    if (f.reason === lastReason) return;
    lastReason = f.reason;
    log("error", (TITLES[f.reason] || f.reason) + " (" + f.reason + ")", capital(f.message) + "." + (f.detail ? " " + f.detail : ""));
  });
  client.on("retry", (e) => {
    $("failure-retry").textContent = "Next attempt in " + Math.max(1, Math.round(e.detail.delayMs / 1000)) + " s";
  });
  client.on("close", (e) => {
    const d = e.detail;
    log("close", "Session closed: " + d.code + " " + (CLOSE_MEANING[d.code] || ""), d.reason ? "Orion Bridge said: " + d.reason : "");
  });
  client.on("message", (e) => {
    received++;
    updateCounters();
    if (typeof e.data === "string") {
      log("recv", e.data, "text, " + e.data.length + " characters", "text");
      return;
    }
    const bytes = new Uint8Array(e.data);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    log("recv", hex(bytes, 64), "binary, " + bytes.length + " bytes" + (/^[\x20-\x7e]*$/.test(text) ? " · \"" + text + "\"" : ""), "binary");
  });
  showStatus(client.status);
}

function send(binary) {
  $("send-note").textContent = "";
  if (!client) start();
  const text = $("message").value;
  const data = binary ? new TextEncoder().encode(text) : text;
  try {
    const now = client.send(data);
    const what = binary ? hex(data, 64) : text;
    const detail = binary ? "binary, " + data.length + " bytes" : "text, " + text.length + " characters";
    if (now) log("sent", what, detail, binary ? "binary" : "text");
    else log("queued", what, detail + " · queued until Orion Bridge is back", binary ? "binary" : "text");
  } catch (err) {
    $("send-note").textContent = err instanceof QueueFullError ? "Too much is waiting to be sent; try again once connected." : String(err.message || err);
  }
  updateCounters();
}

async function init() {
  $("compose").addEventListener("submit", (ev) => { ev.preventDefault(); send(false); });
  $("send-binary").addEventListener("click", () => send(true));
  $("retry").addEventListener("click", () => client && client.reconnectNow());
  $("clear").addEventListener("click", () => { const l = $("log"); while (l.firstChild) l.removeChild(l.firstChild); });
  $("gate-connect").addEventListener("click", start);

  // Chrome asks the user before a site may reach localhost. Only connect on
  // load when it will not prompt; otherwise wait for a click, so the prompt
  // answers something the user did.
  const permission = await localNetworkPermission();
  if (permission === "prompt") {
    showStatus("waiting");
    $("gate").hidden = false;
    tellShop("waiting", null);
    return;
  }
  start();
}

init();
