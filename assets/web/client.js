// Orion Bridge JS client: an ES module with no dependencies.
//
// Served by the bridge at https://localhost:21443/client.js (with CORS for
// allowed origins), or copied into your own bundle. Types: client.d.ts.
//
//   import { connect } from "./client.js";
//   const bridge = connect({ route: "/ws", token });
//   bridge.addEventListener("status", (e) => show(e.detail.status));   // connecting | open | reconnecting | closed
//   bridge.addEventListener("failure", (e) => explain(e.detail));       // { reason, message, detail, ... }
//   bridge.addEventListener("message", (e) => use(e.data));             // string or ArrayBuffer
//   bridge.send("render report 42");                                    // queued while reconnecting
//
// What it does:
// - finds the bridge on its ports (21443, then the fallback ports), trying
//   the port that worked last time first (remembered in localStorage);
// - reconnects after a drop with exponential backoff and jitter, until
//   close() is called;
// - queues sends while not connected, up to a bound (send throws
//   QueueFullError past it), and sends them in order once open;
// - names every failure with a reason code and an English message.
//
// Telling failures apart
// ----------------------
// A browser hides why a connection to localhost failed: fetch rejects with
// the same TypeError and a WebSocket closes with the same 1006 whether the
// bridge is down, its certificate is untrusted, the origin is refused or
// the token is wrong. So after a failed attempt the client asks several
// questions, each of which the browser does answer, and decides by the table
// below (diagnose() implements it; rows are checked in order, per port):
//
//   signal                                                          reason
//   -------------------------------------------------------------   -----------
//   navigator.permissions: loopback-network (or its older alias
//     local-network-access) is "denied"                              permission
//   GET https://localhost:P/health with CORS is readable (so TLS is
//     trusted and the bridge named our Origin in its CORS header)
//     and the route's engine is not reachable (or no such route)     engine-down
//   ... readable, the engine is reachable, yet the WebSocket failed
//     before opening (the bridge answered 401; 503 is the rarer
//     alternative, max_clients)                                      token
//   GET https://localhost:P/health answers in no-cors mode (TLS is
//     trusted, a server answered) but the CORS read fails: the bridge
//     sends Access-Control-Allow-Origin to allowed origins only      origin
//   https fails, and plain GET http://localhost:P/health answers:
//     the bridge answers plain HTTP on its TLS port just for this
//     (readable when our origin is allowed, opaque otherwise)        certificate
//   /health answers 403 {"error": "no-bridge-for-user"} (or
//     "other-user" and no port of ours answers): the bridge there is
//     another user's of this computer, and this user has none         no-bridge-for-user
//   nothing answers on https or http, or /health says the bridge is
//     stopped (status other than "ok")                              not-running
//
// Shared computers (terminal servers, fast user switching): each user's
// bridge serves only that user's processes and has its own port. Another
// user's bridge answers /health with 403 {"error": "other-user",
// "your_port": N}, readable by any origin; the client then tries port N
// first and remembers it (localStorage, per origin), so the next page
// load goes straight there.
//
// Ports are probed in parallel and the port closest to working wins
// (healthy < token < engine-down < origin < certificate <
// no-bridge-for-user < not-running), so
// another program on 21443 does not hide the bridge on 21444. When the
// certificate and the origin are both wrong, the certificate is reported
// first: it must be fixed before the origin can even be checked.
//
// On an open session the close code says it: 1013 (engine not running) and
// 1011 (engine connection broke) are engine-down, 1009 is too-large. Other
// closes (1000 engine closed, 1001 bridge stopping, 1006 dropped) just
// reconnect; if that fails, the table above names the reason.
//
// Local Network Access: in Chrome a public site needs the user's permission
// to reach localhost, and an iframe needs allow="loopback-network". Call
// connect() from a user gesture the first time, so the browser's prompt
// follows a click; localNetworkPermission() tells whether it will prompt.

export const APP_NAME = "Orion Bridge";
export const DEFAULT_PORTS = Object.freeze([21443, 21444, 21445, 21446]);

/** The reason codes and their English messages. */
export const REASONS = Object.freeze({
  "not-running": "Orion Bridge is not running or not installed",
  "certificate": "the certificate isn't trusted: run \"Trust Certificate\" in the tray",
  "origin": "this site isn't allowed: allow it in the tray",
  "token": "the token is wrong or missing: use the token shown in the tray",
  "engine-down": "the report engine isn't running: Orion Bridge connects as soon as it is",
  "too-large": "a message was larger than Orion Bridge allows (max_message_bytes)",
  "permission": "the browser's local network access permission was denied",
  "no-bridge-for-user": "no bridge running for this user",
});

const DEFAULTS = Object.freeze({
  route: "/ws",
  host: "localhost",
  protocols: [],
  reconnect: true,
  maxRetries: Infinity,
  backoff: Object.freeze({ initialMs: 500, maxMs: 10000, factor: 2, jitter: 0.5 }),
  maxQueue: 1000,
  maxQueueBytes: 16 << 20,
  connectTimeoutMs: 10000,
  probeTimeoutMs: 3000,
  probeHttp: true,
  storageKey: "orionbridge.port",
});

// A socket is "stable" once it stayed open this long or got a message; only
// then does the backoff start again from the shortest delay.
const STABLE_MS = 5000;
// The bridge dials the engine after the WebSocket opens and closes with 1013
// if that fails, within its dial timeout (5 s). Until then messages sent on
// the socket are kept, so a 1013 can put them back in the queue: the bridge
// delivered none of them.
const UNCONFIRMED_MS = 6000;

const RANK = { "": 0, "token": 1, "engine-down": 2, "origin": 3, "certificate": 4, "no-bridge-for-user": 5, "not-running": 6, "permission": 7 };

/** Thrown by send() when the queue is full while not connected. */
export class QueueFullError extends Error {
  constructor(queued, bytes, limits) {
    super("Orion Bridge send queue is full (" + queued + " messages, " + bytes + " bytes; limits " +
      limits.maxQueue + " messages, " + limits.maxQueueBytes + " bytes) while not connected");
    this.name = "QueueFullError";
    this.queued = queued;
    this.bytes = bytes;
  }
}

/**
 * failure builds the object a "failure" event carries.
 * @returns {{reason: string, message: string, detail: string, port: number|null, code: number|null, closeReason: string, time: Date}}
 */
export function failure(reason, extra) {
  const f = {
    reason,
    message: REASONS[reason] || reason,
    detail: "",
    port: null,
    code: null,
    closeReason: "",
    time: new Date(),
  };
  return Object.assign(f, extra || {});
}

/** closeFailure maps the close code of an open session to a reason, or "". */
export function closeFailure(code) {
  switch (code) {
    case 1013: // engine unavailable: not running or not listening
    case 1011: // engine connection failed
      return "engine-down";
    case 1009:
      return "too-large";
  }
  return "";
}

/** backoffDelay is the wait before retry number attempt (0-based): exponential, capped, with jitter. */
export function backoffDelay(attempt, backoff, random) {
  const b = Object.assign({}, DEFAULTS.backoff, backoff || {});
  const rnd = typeof random === "function" ? random : Math.random;
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, Math.max(0, attempt)));
  // "Equal jitter": somewhere in [base*(1-jitter), base], so many pages that
  // lost the same bridge do not all come back in the same millisecond.
  const jitter = Math.min(1, Math.max(0, b.jitter));
  return Math.round(base * (1 - jitter * rnd()));
}

/**
 * discoveredPort is the port of this user's own bridge as another user's
 * bridge named it in its 403 /health answer, or null.
 */
export function discoveredPort(health) {
  const p = health && health.app === APP_NAME && health.error === "other-user" ? health.your_port : null;
  return Number.isInteger(p) && p > 0 && p < 65536 ? p : null;
}

/**
 * withPort puts port first in ports (adding it when missing): a port this
 * user's bridge was found on, by a session or by discovery.
 */
export function withPort(ports, port) {
  if (!Number.isInteger(port) || port < 1) return ports.slice();
  return [port].concat(ports.filter((p) => p !== port));
}

/** orderPorts puts the remembered port first when it is one of ports. */
export function orderPorts(ports, remembered) {
  const list = ports.slice();
  const i = list.indexOf(remembered);
  if (i > 0) {
    list.splice(i, 1);
    list.unshift(remembered);
  }
  return list;
}

/**
 * diagnose applies the decision table above to probe results.
 * @param {{permission?: string, probes: Array<{port: number, https: boolean, health: any, plain: string}>,
 *          route: string, socketFailed?: boolean, tokenGiven?: boolean, framed?: boolean}} s
 * @returns {null | ReturnType<typeof failure>} null when nothing is wrong as far as the probes can tell
 */
export function diagnose(s) {
  if (s.permission === "denied") {
    return failure("permission", {
      detail: s.framed
        ? "Allow local network access for this site in the browser's site settings; the page that embeds this one must give its iframe allow=\"loopback-network\"."
        : "Allow local network access for this site in the browser's site settings.",
    });
  }
  let best = null;
  let bestRank = Infinity;
  for (const p of s.probes) {
    const f = diagnosePort(p, s);
    const rank = RANK[f ? f.reason : ""];
    if (rank < bestRank) {
      best = f;
      bestRank = rank;
    }
  }
  if (best && best.reason === "not-running" && !best.detail.startsWith("Orion Bridge reports")) {
    // Some browsers (Safari) block the plain-HTTP probe from https pages,
    // so an untrusted certificate can look like this too: say how to check.
    const ports = s.probes.map((p) => p.port);
    best.detail = "Nothing answers on " + (ports.length > 1 ? "ports " + ports.join(", ") : "port " + ports[0]) +
      ". If Orion Bridge is running, open https://localhost:" + ports[0] + "/ to check its certificate.";
  }
  return best;
}

function diagnosePort(p, s) {
  const port = p.port;
  if (p.health && p.health.app === APP_NAME && p.health.error) {
    // Another user's bridge: it named our port (probed too, and better
    // ranked if it answers) or said we have none.
    const mine = discoveredPort(p.health);
    return failure("no-bridge-for-user", {
      port,
      detail: "The Orion Bridge on port " + port + " belongs to another user of this computer" +
        (mine ? "; yours (port " + mine + ") does not answer: start it." : p.health.error === "no-bridge-for-user"
          ? ", and you have no Orion Bridge running: start yours."
          : ", and it could not tell where yours is: start yours, or ask your administrator."),
    });
  }
  if (p.health && p.health.app === APP_NAME) {
    if (p.health.status && p.health.status !== "ok") {
      // Listening but not taking sessions (stopped from the tray).
      return failure("not-running", { port, detail: "Orion Bridge reports \"" + p.health.status + "\": start it from the tray." });
    }
    const routes = Array.isArray(p.health.routes) ? p.health.routes : [];
    const route = routes.find((r) => r && r.path === s.route);
    if (!route) {
      return failure("engine-down", {
        port,
        detail: "Orion Bridge has no route " + s.route + " (it has " +
          (routes.map((r) => r.path).join(", ") || "none") + ").",
      });
    }
    if (route.reachable === false) {
      return failure("engine-down", { port, detail: "No report engine answers at " + route.target + "." });
    }
    if (s.socketFailed) {
      return failure("token", {
        port,
        detail: s.tokenGiven
          ? "Orion Bridge refused the token this page gave."
          : "Orion Bridge wants a token and this page gave none (or all its sessions are in use).",
      });
    }
    return null;
  }
  if (p.https) {
    return failure("origin", { port, detail: "Orion Bridge answers on port " + port + " but does not allow this site's origin." });
  }
  if (p.plain === "bridge" || p.plain === "answered") {
    return failure("certificate", {
      port,
      detail: "Orion Bridge runs on port " + port + " but this browser does not trust its certificate" +
        (p.plain === "answered" ? " (and this site's origin may not be allowed either)." : "."),
    });
  }
  return failure("not-running", { port, detail: "Nothing answers on port " + port + "." });
}

/**
 * localNetworkPermission reads Chrome's Local Network Access permission:
 * "granted", "prompt", "denied", or "unsupported" where the browser has no
 * such permission (Firefox, Safari) or it does not apply.
 */
export async function localNetworkPermission() {
  const perms = typeof navigator !== "undefined" && navigator.permissions;
  if (!perms || typeof perms.query !== "function") return "unsupported";
  // loopback-network is the current name (Chrome 14x+); local-network-access
  // the older one that covered both. Only the first name the browser knows
  // counts: with the new one granted, the old alias can still read "prompt".
  for (const name of ["loopback-network", "local-network-access"]) {
    try {
      return (await perms.query({ name })).state;
    } catch (e) {
      // This browser does not know the name: try the next one.
    }
  }
  return "unsupported";
}

function isFramed() {
  try {
    return typeof window !== "undefined" && window.top !== window;
  } catch (e) {
    return true;
  }
}

// ---- options ---------------------------------------------------------

function normalize(options) {
  const o = Object.assign({}, DEFAULTS, options || {});
  o.backoff = Object.assign({}, DEFAULTS.backoff, (options && options.backoff) || {});
  o.ports = o.ports === undefined || o.ports === null ? DEFAULT_PORTS.slice() : Array.from(o.ports, Number);
  if (!o.ports.length || o.ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new TypeError("Orion Bridge: ports must be port numbers 1-65535, got " + JSON.stringify(options.ports));
  }
  if (typeof o.route !== "string" || o.route.charAt(0) !== "/") {
    throw new TypeError("Orion Bridge: route must be a path starting with /, got " + JSON.stringify(o.route));
  }
  o.protocols = o.protocols ? Array.from(o.protocols, String) : [];
  o.token = o.token ? String(o.token) : "";
  o.fetch = o.fetch || (typeof fetch === "function" ? fetch.bind(globalThis) : null);
  o.WebSocket = o.WebSocket || (typeof WebSocket === "function" ? WebSocket : null);
  return o;
}

function readPort(key) {
  if (!key) return null;
  try {
    const v = Number(globalThis.localStorage.getItem(key));
    return Number.isInteger(v) && v > 0 ? v : null;
  } catch (e) {
    return null; // storage blocked (e.g. third-party iframe): just don't remember
  }
}

function writePort(key, port) {
  if (!key) return;
  try {
    globalThis.localStorage.setItem(key, String(port));
  } catch (e) {
    // See readPort.
  }
}

// Subprotocol names must be HTTP tokens; a token with other characters
// travels in ?token= instead (the bridge logs the path, never the query).
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function socketTarget(o, port) {
  const protocols = o.protocols.slice();
  let url = "wss://" + o.host + ":" + port + o.route;
  if (o.token) {
    if (HTTP_TOKEN.test(o.token)) protocols.push("bearer." + o.token);
    else url += "?token=" + encodeURIComponent(o.token);
  }
  return { url, protocols };
}

// ---- probes ----------------------------------------------------------

async function fetchWithin(o, url, init) {
  const ctrl = typeof AbortController === "function" ? new AbortController() : null;
  const timer = ctrl ? setTimeout(() => ctrl.abort(), o.probeTimeoutMs) : null;
  try {
    return await o.fetch(url, Object.assign({
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal: ctrl ? ctrl.signal : undefined,
    }, init));
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function readHealth(o, url) {
  try {
    const res = await fetchWithin(o, url, { mode: "cors", redirect: "error" });
    // 403 is another user's bridge answering the discovery (error set).
    if (!res.ok && res.status !== 403) return null;
    const h = await res.json();
    if (!res.ok && !(h && h.error)) return null;
    return h && h.app === APP_NAME ? h : null;
  } catch (e) {
    return null;
  }
}

async function answers(o, url) {
  try {
    await fetchWithin(o, url, { mode: "no-cors" });
    return true;
  } catch (e) {
    return false;
  }
}

/** probePort asks one port the questions of the decision table. */
async function probePort(o, port) {
  const origin = o.host + ":" + port;
  const r = { port, https: false, health: null, plain: "skipped" };
  r.health = await readHealth(o, "https://" + origin + "/health");
  r.https = r.health !== null || await answers(o, "https://" + origin + "/health");
  if (!r.https && o.probeHttp) {
    const plain = await readHealth(o, "http://" + origin + "/health");
    r.plain = plain ? "bridge" : await answers(o, "http://" + origin + "/health") ? "answered" : "none";
    // Another user's bridge has a certificate this browser need not trust
    // (each user's CA is their own): its discovery answer comes over plain
    // HTTP too, and counts as its /health.
    if (plain && plain.error) r.health = plain;
  }
  return r;
}

/**
 * probe checks every port without opening a session and returns what it
 * found: the permission state, each port's answers, the failure the table
 * gives (null when all is well) and the /health document of the best port.
 */
export async function probe(options) {
  const o = normalize(options);
  return runProbe(o, { socketFailed: false });
}

async function runProbe(o, extra) {
  const permission = await localNetworkPermission();
  const ports = withPort(o.ports, readPort(o.storageKey));
  const probes = permission === "denied" ? [] : await Promise.all(ports.map((p) => probePort(o, p)));
  // Ports that other users' bridges named as ours, not probed yet.
  const named = [...new Set(probes.map((p) => discoveredPort(p.health)).filter((p) => p && !ports.includes(p)))];
  for (const p of await Promise.all(named.map((port) => probePort(o, port)))) probes.push(p);
  const found = diagnose(Object.assign({ permission, probes, route: o.route, tokenGiven: !!o.token, framed: isFramed() }, extra));
  const healthy = probes.find((p) => p.health && !p.health.error);
  return {
    permission,
    probes,
    failure: found,
    port: found ? found.port : healthy ? healthy.port : null,
    health: healthy ? healthy.health : null,
  };
}

// ---- the client --------------------------------------------------------

function byteLength(data) {
  if (typeof data === "string") {
    let n = 0;
    for (let i = 0; i < data.length; i++) {
      const c = data.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < data.length) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  throw new TypeError("Orion Bridge: send() takes a string, ArrayBuffer, typed array, DataView or Blob");
}

// A queued binary message is copied, so the caller may reuse its buffer.
function ownCopy(data) {
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
  return data;
}

/**
 * BridgeClient is one logical connection to Orion Bridge that survives
 * drops and restarts. Create it with connect(). Events: "status",
 * "connecting", "open", "reconnecting", "closed" (CustomEvent, detail
 * {status, previous, failure}), "message" (MessageEvent, data is a string or
 * an ArrayBuffer), "failure" (CustomEvent, detail as failure()), "close"
 * (CustomEvent, detail {code, reason, wasClean, port}: one session ended)
 * and "retry" (CustomEvent, detail {attempt, delayMs}).
 */
export class BridgeClient extends EventTarget {
  constructor(options) {
    super();
    this.options = normalize(options);
    if (!this.options.WebSocket) throw new TypeError("Orion Bridge: no WebSocket in this environment");
    if (!this.options.fetch) throw new TypeError("Orion Bridge: no fetch in this environment");
    this._status = "idle";
    this._failure = null;
    this._ws = null;
    this._port = null;
    this._queue = [];
    this._queueBytes = 0;
    this._unconfirmed = [];
    this._unconfirmedBytes = 0;
    this._openedAt = 0;
    this._gotMessage = false;
    this._retries = 0;
    this._timer = null;
    this._gen = 0;
  }

  /** connecting | open | reconnecting | closed */
  get status() { return this._status; }
  /** The last failure, or null; cleared when a session opens. */
  get failure() { return this._failure; }
  /** The port of the open session, or of the last one. */
  get port() { return this._port; }
  /** The subprotocol the bridge chose (a bearer token is never shown). */
  get protocol() {
    const p = this._ws ? this._ws.protocol : "";
    return p.indexOf("bearer.") === 0 ? "bearer.<token>" : p;
  }
  /** Messages waiting to be sent, and their bytes. */
  get queued() { return this._queue.length; }
  get queuedBytes() { return this._queueBytes; }
  /** The URL of the open session, without any token. */
  get url() {
    return this._port ? "wss://" + this.options.host + ":" + this._port + this.options.route : "";
  }

  /** on adds a listener and returns a function that removes it. */
  on(type, listener) {
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /**
   * send sends now when open, else queues. Returns true when sent at once,
   * false when queued; throws QueueFullError past the bound, and an Error
   * after close().
   */
  send(data) {
    if (this._status === "closed") throw new Error("Orion Bridge client is closed: call connect() again");
    const bytes = byteLength(data);
    const ws = this._ws;
    if (ws && ws.readyState === 1 && this._queue.length === 0) {
      ws.send(data);
      this._track(data, bytes);
      return true;
    }
    const o = this.options;
    if (this._queue.length + 1 > o.maxQueue || this._queueBytes + bytes > o.maxQueueBytes) {
      throw new QueueFullError(this._queue.length, this._queueBytes, o);
    }
    this._queue.push({ data: ownCopy(data), bytes });
    this._queueBytes += bytes;
    return false;
  }

  /** close ends the session for good (no reconnection) and drops the queue. */
  close(code, reason) {
    if (this._status === "closed") return;
    this._gen++;
    clearTimeout(this._timer);
    this._timer = null;
    this._queue = [];
    this._queueBytes = 0;
    const ws = this._ws;
    this._setStatus("closed");
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) {
      ws.close(code || 1000, reason || "closed by the page");
    }
  }

  /** reconnectNow skips the backoff wait (e.g. behind a "Retry" button). */
  reconnectNow() {
    if (this._status === "closed" || this._status === "open") return;
    clearTimeout(this._timer);
    this._timer = null;
    this._attempt();
  }

  _start() {
    this._setStatus("connecting");
    this._attempt();
  }

  _setStatus(status) {
    const previous = this._status;
    if (status === previous) return;
    this._status = status;
    const detail = { status, previous, failure: this._failure };
    this.dispatchEvent(new CustomEvent("status", { detail }));
    this.dispatchEvent(new CustomEvent(status, { detail }));
  }

  _fail(f) {
    this._failure = f;
    this.dispatchEvent(new CustomEvent("failure", { detail: f }));
  }

  async _attempt() {
    const gen = ++this._gen;
    const o = this.options;
    const stale = () => gen !== this._gen || this._status === "closed";

    const permission = await localNetworkPermission();
    if (stale()) return;
    if (permission === "denied") {
      return this._failed(gen, diagnose({ permission, probes: [], route: o.route, framed: isFramed() }));
    }
    // The remembered port comes first even when it is not in o.ports:
    // another user's bridge may have named it (see discoveredPort).
    let ports = withPort(o.ports, this._port || readPort(o.storageKey));

    // Ask the likeliest port first whether the engine is there: a session
    // the bridge would close at once with 1013 only makes the status flap.
    // Unreadable (origin not listed, bridge down, …) means "just try".
    let pre = await readHealth(o, "https://" + o.host + ":" + ports[0] + "/health");
    if (stale()) return;
    if (!pre && o.probeHttp) {
      // Another user's bridge, whose certificate this browser does not
      // trust, still answers the discovery over plain HTTP (probePort).
      const plain = await readHealth(o, "http://" + o.host + ":" + ports[0] + "/health");
      if (stale()) return;
      if (plain && plain.error) pre = plain;
    }
    const mine = discoveredPort(pre);
    if (mine) {
      // Another user's bridge: ours is on port mine. Never try a socket on
      // theirs; remember ours for the next page load.
      writePort(o.storageKey, mine);
      ports = withPort(ports.filter((p) => p !== ports[0]), mine);
      pre = await readHealth(o, "https://" + o.host + ":" + mine + "/health");
      if (stale()) return;
    }
    if (pre && !pre.error) {
      const f = diagnosePort({ port: ports[0], https: true, health: pre, plain: "skipped" }, { route: o.route });
      if (f) return this._failed(gen, f);
    }

    for (const port of ports) {
      if (await this._open(port, gen)) return;
      if (stale()) return;
    }
    const found = await runProbe(o, { socketFailed: true });
    if (stale()) return;
    // Healthy on every count yet the socket failed: the bridge may have
    // come up between the two. One more try before calling it "token".
    if (found.failure && found.failure.reason === "token") {
      if (await this._open(found.failure.port, gen)) return;
      if (stale()) return;
    }
    this._failed(gen, found.failure || failure("not-running"));
  }

  _failed(gen, f) {
    if (gen !== this._gen || this._status === "closed") return;
    this._fail(f);
    this._scheduleRetry();
  }

  _scheduleRetry() {
    const o = this.options;
    if (!o.reconnect || this._retries >= o.maxRetries) {
      this._gen++;
      this._setStatus("closed");
      return;
    }
    const delayMs = backoffDelay(this._retries, o.backoff);
    this._retries++;
    this._setStatus("reconnecting");
    this.dispatchEvent(new CustomEvent("retry", { detail: { attempt: this._retries, delayMs } }));
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = null;
      this._attempt();
    }, delayMs);
  }

  // _open resolves true once a session is open on port, false when the
  // socket failed before opening (or the attempt went stale).
  _open(port, gen) {
    const o = this.options;
    return new Promise((resolve) => {
      const target = socketTarget(o, port);
      let ws;
      try {
        ws = new o.WebSocket(target.url, target.protocols);
      } catch (e) {
        resolve(false);
        return;
      }
      ws.binaryType = "arraybuffer";
      let settled = false;
      let opened = false;
      const settle = (ok) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        if (opened) return;
        try { ws.close(); } catch (e) { /* already closing */ }
        settle(false);
      }, o.connectTimeoutMs);
      ws.onopen = () => {
        if (settled || gen !== this._gen || this._status === "closed") {
          ws.close(1000, "superseded");
          settle(false);
          return;
        }
        opened = true;
        this._opened(ws, port);
        settle(true);
      };
      ws.onmessage = (ev) => {
        if (this._ws !== ws) return;
        this._gotMessage = true;
        this._forgetUnconfirmed(true);
        this.dispatchEvent(new MessageEvent("message", { data: ev.data }));
      };
      ws.onclose = (ev) => {
        if (!opened) {
          settle(false);
          return;
        }
        this._closed(ws, ev, port);
      };
    });
  }

  _opened(ws, port) {
    this._ws = ws;
    this._port = port;
    this._openedAt = Date.now();
    this._gotMessage = false;
    this._forgetUnconfirmed();
    this._failure = null;
    writePort(this.options.storageKey, port);
    this._setStatus("open");
    // Flush in order; a send() during the flush queues behind it.
    while (this._queue.length && this._ws === ws && ws.readyState === 1) {
      const item = this._queue.shift();
      this._queueBytes -= item.bytes;
      ws.send(item.data);
      this._track(item.data, item.bytes);
    }
  }

  // _track keeps what was sent until the engine is surely connected, within
  // the queue's bounds (past them, a 1013 would lose the excess anyway).
  _track(data, bytes) {
    const o = this.options;
    if (this._unconfirmed === null) return; // stopped for this session
    if (this._gotMessage || Date.now() - this._openedAt > UNCONFIRMED_MS ||
        this._unconfirmed.length >= o.maxQueue || this._unconfirmedBytes + bytes > o.maxQueueBytes) {
      this._forgetUnconfirmed(true);
      return;
    }
    this._unconfirmed.push({ data: ownCopy(data), bytes });
    this._unconfirmedBytes += bytes;
  }

  // _forgetUnconfirmed drops the kept messages; with stop, nothing more is
  // kept until the next session opens.
  _forgetUnconfirmed(stop) {
    this._unconfirmed = stop ? null : [];
    this._unconfirmedBytes = 0;
  }

  _closed(ws, ev, port) {
    if (this._ws !== ws) return;
    this._ws = null;
    this.dispatchEvent(new CustomEvent("close", {
      detail: { code: ev.code, reason: ev.reason, wasClean: ev.wasClean, port },
    }));
    if (this._status === "closed") return;
    if (this._gotMessage || Date.now() - this._openedAt >= STABLE_MS) this._retries = 0;
    if (ev.code === 1013 && this._unconfirmed && this._unconfirmed.length) {
      // The bridge never reached the engine, so it delivered none of these.
      for (const item of this._unconfirmed) this._queueBytes += item.bytes;
      this._queue = this._unconfirmed.concat(this._queue);
    }
    this._forgetUnconfirmed();
    const reason = closeFailure(ev.code);
    if (reason) {
      this._fail(failure(reason, {
        port, code: ev.code, closeReason: ev.reason || "",
        detail: ev.reason ? "Orion Bridge: " + ev.reason : "",
      }));
    }
    this._scheduleRetry();
  }
}

/**
 * connect starts a client and returns it at once; watch its events.
 * Options (all optional): route ("/ws"), ports ([21443, 21444, 21445,
 * 21446]), token, protocols, host ("localhost"), reconnect (true),
 * maxRetries, backoff {initialMs, maxMs, factor, jitter}, maxQueue,
 * maxQueueBytes, connectTimeoutMs, probeTimeoutMs, probeHttp (true),
 * storageKey ("orionbridge.port"; null to not remember the port).
 */
export function connect(options) {
  const client = new BridgeClient(options);
  client._start();
  return client;
}

// ---- message(reason, lang): the reasons in the reader's language ---------------
//
// Issue 18. A page on another site shows these when the bridge may not be
// running, so they cannot be fetched from the bridge: client.js carries
// them. They are the "reason.*" entries of the catalogues that the tray and
// the diagnostics page use (assets/web/i18n/*.json); assets/i18n_test.go
// fails when the two differ.

/** The reason messages by language tag; REASONS is the English one. */
export const MESSAGES = Object.freeze({
  en: REASONS,
  ko: Object.freeze({
    "not-running": "Orion Bridge가 실행 중이 아니거나 설치되지 않았습니다",
    "certificate": "인증서를 신뢰하지 않습니다: 트레이에서 \"인증서 신뢰\"를 실행하세요",
    "origin": "이 사이트는 허용되지 않았습니다: 트레이에서 허용하세요",
    "token": "토큰이 틀렸거나 없습니다: 트레이에 표시된 토큰을 사용하세요",
    "engine-down": "리포트 엔진이 실행 중이 아닙니다: 엔진이 시작되면 Orion Bridge가 바로 연결합니다",
    "too-large": "메시지가 Orion Bridge가 허용하는 크기보다 큽니다 (max_message_bytes)",
    "permission": "브라우저의 로컬 네트워크 액세스 권한이 거부되었습니다",
    "no-bridge-for-user": "이 사용자에 대해 실행 중인 브리지가 없습니다",
  }),
});

/**
 * matchLanguage picks the first of the preferred languages (a tag such as
 * "ko-KR", or a list such as navigator.languages) whose base language is
 * among available, else available's first (English).
 */
export function matchLanguage(preferred, available) {
  const list = Array.isArray(preferred) ? preferred : [preferred];
  for (const tag of list) {
    const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (available.includes(base)) return base;
  }
  return available[0];
}

/**
 * message explains a reason code in the first of the given languages that
 * client.js has ("ko", "ko-KR", or a list; by default the browser's
 * navigator.languages), else in English. An unknown code comes back as it
 * is, as in a failure's message.
 */
export function message(reason, lang) {
  let preferred = lang;
  if (preferred === undefined || preferred === null) {
    preferred = typeof navigator === "undefined" ? [] : navigator.languages || [navigator.language];
  }
  const table = MESSAGES[matchLanguage(preferred, Object.keys(MESSAGES))];
  return table[reason] || REASONS[reason] || String(reason);
}
