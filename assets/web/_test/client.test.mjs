// Unit tests for client.js's logic, with a fake WebSocket and fetch.
// Run: node --test assets/web/_test/client.test.mjs (Node 18 or later)
// (The leading underscore keeps this directory out of go:embed, so the
// bridge neither ships nor serves it.)
// The real-browser behaviour is tested in e2e/client_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// Debian 12's Node 18 lacks a global CustomEvent, which browsers have.
if (typeof globalThis.CustomEvent !== "function") {
  globalThis.CustomEvent = class CustomEvent extends Event {
    constructor(type, init) {
      super(type, init);
      this.detail = init && init.detail !== undefined ? init.detail : null;
    }
  };
}

// client.js is an ES module, but no package.json says so, and Node before
// 20.19 reads a .js file as CommonJS: import a .mjs copy instead.
const dir = mkdtempSync(join(tmpdir(), "orion-client-test-"));
const copy = join(dir, "client.mjs");
copyFileSync(new URL("../client.js", import.meta.url), copy);
const {
  REASONS, DEFAULT_PORTS, QueueFullError, backoffDelay, closeFailure, connect, diagnose, orderPorts, probe,
  discoveredPort, withPort,
} = await import(pathToFileURL(copy).href);
const { MESSAGES, matchLanguage, message } = await import(pathToFileURL(copy).href);
rmSync(dir, { recursive: true, force: true });

// ---- fakes -------------------------------------------------------------

// FakeSocket opens or fails on the next tick, as behave(url) says.
function fakeSockets(behave) {
  const all = [];
  class FakeSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.protocol = "";
      this.sent = [];
      all.push(this);
      setTimeout(() => {
        const b = behave(url, this);
        if (b === "open") {
          this.readyState = 1;
          if (this.onopen) this.onopen({});
        } else {
          this.readyState = 3;
          if (this.onclose) this.onclose({ code: b, reason: "", wasClean: false });
        }
      }, 0);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(data);
    }
    close(code, reason) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.onclose && this.onclose({ code: code || 1005, reason: reason || "", wasClean: true }), 0);
    }
    // The bridge ends the session.
    drop(code, reason) {
      this.readyState = 3;
      this.onclose({ code, reason: reason || "", wasClean: code !== 1006 });
    }
    receive(data) {
      this.onmessage({ data });
    }
  }
  return { FakeSocket, all };
}

// fakeFetch answers from a table: "https://localhost:21443/health cors" → {json} | "opaque" | absent (TypeError).
function fakeFetch(table) {
  return async (url, init) => {
    const hit = table[url + " " + init.mode];
    if (hit === undefined) throw new TypeError("Failed to fetch");
    if (hit === "opaque") return { ok: false, status: 0, type: "opaque", json: async () => { throw new SyntaxError("opaque"); } };
    // { status: 403, body }: another user's bridge answering the discovery.
    if (hit.status === 403) return { ok: false, status: 403, type: "cors", json: async () => hit.body };
    return { ok: true, status: 200, type: "cors", json: async () => hit };
  };
}

const healthy = (reachable) => ({
  status: "ok", app: "Orion Bridge",
  routes: [{ path: "/ws", target: "127.0.0.1:21400", framing: "raw", reachable }],
});

const fast = { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 };

async function waitFor(what, cond) {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function record(client) {
  const seen = { statuses: [], failures: [], messages: [], closes: [] };
  client.on("status", (e) => seen.statuses.push(e.detail.status));
  client.on("failure", (e) => seen.failures.push(e.detail.reason));
  client.on("message", (e) => seen.messages.push(e.data));
  client.on("close", (e) => seen.closes.push(e.detail.code));
  return seen;
}

// navigator.permissions for the Local Network Access tests; absent otherwise.
function setPermission(state) {
  const perms = state === undefined ? undefined : {
    query: async ({ name }) => {
      if (name !== "loopback-network") throw new TypeError("unknown permission " + name);
      return { state };
    },
  };
  Object.defineProperty(globalThis, "navigator", { value: perms ? { permissions: perms } : undefined, configurable: true, writable: true });
}

// ---- pure logic ----------------------------------------------------------

test("every reason has the message of the issue's table", () => {
  assert.deepEqual(Object.keys(REASONS).sort(),
    ["certificate", "engine-down", "no-bridge-for-user", "not-running", "origin", "permission", "token", "too-large"]);
  assert.equal(REASONS["no-bridge-for-user"], "no bridge running for this user");
  assert.equal(REASONS["not-running"], "Orion Bridge is not running or not installed");
  assert.equal(REASONS.certificate, "the certificate isn't trusted: run \"Trust Certificate\" in the tray");
  assert.equal(REASONS.origin, "this site isn't allowed: allow it in the tray");
  assert.equal(REASONS.permission, "the browser's local network access permission was denied");
  assert.deepEqual([...DEFAULT_PORTS], [21443, 21444, 21445, 21446]);
});

test("close codes of an open session", () => {
  assert.equal(closeFailure(1013), "engine-down");
  assert.equal(closeFailure(1011), "engine-down");
  assert.equal(closeFailure(1009), "too-large");
  for (const code of [1000, 1001, 1005, 1006]) assert.equal(closeFailure(code), "");
});

test("backoff grows exponentially, is capped and jittered", () => {
  const b = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, b, () => 0)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(0, b, () => 1), 50); // the most jitter takes half
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, b);
    assert.ok(d >= 400 && d <= 800, "delay " + d);
  }
  assert.equal(backoffDelay(0, {}, () => 0), 500); // the defaults start at 500 ms
});

test("the remembered port goes first, if it is one of the ports", () => {
  assert.deepEqual(orderPorts([1, 2, 3], 3), [3, 1, 2]);
  assert.deepEqual(orderPorts([1, 2, 3], 1), [1, 2, 3]);
  assert.deepEqual(orderPorts([1, 2, 3], 9), [1, 2, 3]);
  assert.deepEqual(orderPorts([1, 2, 3], null), [1, 2, 3]);
});

test("the decision table, row by row", () => {
  const row = (probe, extra) => {
    const f = diagnose(Object.assign({ route: "/ws", probes: [Object.assign({ port: 21443, https: false, health: null, plain: "none" }, probe)] }, extra));
    return f ? f.reason : null;
  };
  assert.equal(row({}, { permission: "denied" }), "permission");
  assert.equal(row({ https: true, health: healthy(false) }), "engine-down");
  assert.equal(row({ https: true, health: { app: "Orion Bridge", routes: [{ path: "/other" }] } }), "engine-down");
  assert.equal(row({ https: true, health: healthy(true) }, { socketFailed: true }), "token");
  assert.equal(row({ https: true, health: healthy(true) }), null);
  assert.equal(row({ https: true, health: Object.assign(healthy(true), { status: "paused" }) }, { socketFailed: true }), "not-running");
  assert.equal(row({ https: true }), "origin");
  assert.equal(row({ plain: "bridge" }), "certificate");
  assert.equal(row({ plain: "answered" }), "certificate");
  assert.equal(row({ plain: "none" }), "not-running");
  assert.equal(row({ plain: "skipped" }), "not-running");
  // A permission of "prompt" or "granted" changes nothing.
  assert.equal(row({ plain: "none" }, { permission: "prompt" }), "not-running");
});

test("across ports, the one closest to working wins", () => {
  const f = diagnose({
    route: "/ws", socketFailed: true, probes: [
      { port: 21443, https: false, health: null, plain: "answered" }, // another program speaking HTTP
      { port: 21444, https: true, health: healthy(true), plain: "skipped" },
      { port: 21445, https: false, health: null, plain: "none" },
    ],
  });
  assert.equal(f.reason, "token");
  assert.equal(f.port, 21444);
  assert.match(f.detail, /gave none/);
});

test("probe() reads the signals the table needs", async () => {
  setPermission(undefined);
  const fetch = fakeFetch({
    // 21443: TLS untrusted, the plain probe readable.
    "http://localhost:21443/health cors": { app: "Orion Bridge", tls: "use https://localhost:21443" },
    // 21444: TLS fine, CORS refused.
    "https://localhost:21444/health no-cors": "opaque",
  });
  const r = await probe({ ports: [21443, 21444, 21445], fetch, WebSocket: class {}, storageKey: null });
  assert.deepEqual(r.probes.map((p) => [p.port, p.https, p.plain]),
    [[21443, false, "bridge"], [21444, true, "skipped"], [21445, false, "none"]]);
  assert.equal(r.failure.reason, "origin");
  assert.equal(r.failure.port, 21444);
});

// ---- the client with fakes -------------------------------------------------

test("finds the bridge on a fallback port, queues until open, then sends in order", async () => {
  setPermission("granted");
  const { FakeSocket, all } = fakeSockets((url) => url.includes(":21445/") ? "open" : 1006);
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: fast, token: "s3cret" });
  const seen = record(c);
  assert.equal(c.status, "connecting");
  assert.equal(c.send("first"), false);
  c.send(new Uint8Array([1, 2, 3]));
  await waitFor("open", () => c.status === "open");
  assert.equal(c.port, 21445);
  assert.deepEqual(all.map((s) => s.url), ["wss://localhost:21443/ws", "wss://localhost:21444/ws", "wss://localhost:21445/ws"]);
  assert.deepEqual(all[2].protocols, ["bearer.s3cret"]);
  const open = all[2];
  assert.equal(open.sent[0], "first");
  assert.deepEqual([...new Uint8Array(open.sent[1])], [1, 2, 3]);
  assert.equal(c.send("now"), true);
  assert.equal(open.sent[2], "now");
  assert.deepEqual(seen.statuses, ["open"]);
  c.close();
  assert.equal(c.status, "closed");
  assert.throws(() => c.send("x"), /closed/);
});

test("a token that is not an HTTP token travels in the query", async () => {
  setPermission(undefined);
  const { FakeSocket, all } = fakeSockets(() => "open");
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, token: "a b/c", ports: [1] });
  await waitFor("open", () => c.status === "open");
  assert.equal(all[0].url, "wss://localhost:1/ws?token=a%20b%2Fc");
  assert.deepEqual(all[0].protocols, []);
  c.close();
});

test("the queue is bounded", async () => {
  setPermission(undefined);
  const { FakeSocket } = fakeSockets(() => 1006);
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: fast, maxQueue: 2, maxQueueBytes: 10 });
  c.send("ab");
  c.send("cd");
  assert.throws(() => c.send("e"), QueueFullError);
  assert.equal(c.queued, 2);
  c.close();
  const d = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: fast, maxQueueBytes: 4 });
  d.send("€"); // 3 bytes in UTF-8
  assert.throws(() => d.send("ab"), (e) => e instanceof QueueFullError && e.bytes === 3);
  d.close();
});

test("reconnects after the bridge restarts; not-running while it is away", async () => {
  setPermission(undefined);
  let up = true;
  const { FakeSocket, all } = fakeSockets(() => up ? "open" : 1006);
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: fast, ports: [21443] });
  const seen = record(c);
  await waitFor("open", () => c.status === "open");
  up = false;
  all[0].drop(1001, "bridge shutting down");
  await waitFor("not-running", () => seen.failures.includes("not-running"));
  assert.equal(c.status, "reconnecting");
  c.send("while away");
  up = true;
  await waitFor("open again", () => c.status === "open");
  assert.equal(all[all.length - 1].sent[0], "while away");
  assert.deepEqual(seen.closes, [1001]);
  assert.equal(c.failure, null);
  c.close();
});

test("1013 is engine-down, and what the bridge never delivered is sent again", async () => {
  setPermission(undefined);
  let engine = false;
  const health = {};
  const fetch = fakeFetch(health);
  const { FakeSocket, all } = fakeSockets((url, ws) => {
    if (!engine) setTimeout(() => ws.drop(1013, "engine unavailable at 127.0.0.1:21400: connection refused"), 0);
    return "open";
  });
  const c = connect({ WebSocket: FakeSocket, fetch, storageKey: null, backoff: fast, ports: [21443] });
  const seen = record(c);
  c.send("render");
  await waitFor("engine-down", () => seen.failures.includes("engine-down"));
  assert.equal(c.failure.code, 1013);
  assert.match(c.failure.detail, /connection refused/);
  assert.equal(all[0].sent[0], "render");
  // Now /health is readable and says the engine is away: no socket is opened.
  health["https://localhost:21443/health cors"] = healthy(false);
  // An attempt already past its /health check may still open one session.
  let n = seen.failures.length;
  await waitFor("a retry", () => seen.failures.length >= n + 2);
  const sockets = all.length;
  n = seen.failures.length;
  await waitFor("more retries", () => seen.failures.length >= n + 2);
  assert.equal(all.length, sockets, "opened a session while /health said the engine is down");
  engine = true;
  health["https://localhost:21443/health cors"] = healthy(true);
  await waitFor("open with the engine", () => c.status === "open" && all[all.length - 1].sent.length > 0);
  assert.equal(all[all.length - 1].sent[0], "render");
  c.close();
});

test("1009 is too-large", async () => {
  setPermission(undefined);
  const { FakeSocket, all } = fakeSockets(() => "open");
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: fast, ports: [21443] });
  const seen = record(c);
  await waitFor("open", () => c.status === "open");
  all[0].receive("hello");
  all[0].drop(1009, "message too large");
  await waitFor("too-large", () => seen.failures.includes("too-large"));
  assert.deepEqual(seen.messages, ["hello"]);
  c.close();
});

test("a denied Local Network Access permission is reported without probing", async () => {
  setPermission("denied");
  let fetched = 0;
  const { FakeSocket, all } = fakeSockets(() => "open");
  const c = connect({ WebSocket: FakeSocket, fetch: async () => { fetched++; throw new TypeError("no"); }, storageKey: null, backoff: fast });
  const seen = record(c);
  await waitFor("permission", () => seen.failures.includes("permission"));
  assert.equal(all.length, 0);
  assert.equal(fetched, 0);
  c.close();
  setPermission(undefined);
});

test("without reconnect, a failure closes the client", async () => {
  setPermission(undefined);
  const { FakeSocket } = fakeSockets(() => 1006);
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, reconnect: false, ports: [1] });
  const seen = record(c);
  await waitFor("closed", () => c.status === "closed");
  assert.deepEqual(seen.failures, ["not-running"]);
});

test("after a reply from the engine, nothing is sent twice", async () => {
  setPermission(undefined);
  const { FakeSocket, all } = fakeSockets(() => "open");
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: { initialMs: 10000 }, ports: [21443] });
  await waitFor("open", () => c.status === "open");
  c.send("a");
  all[0].receive("reply"); // the engine is connected: "a" reached it
  c.send("b");
  all[0].drop(1013, "engine unavailable");
  assert.equal(c.queued, 0);
  c.close();
});

test("what is kept for a 1013 stays within the queue's bounds", async () => {
  setPermission(undefined);
  const { FakeSocket, all } = fakeSockets(() => "open");
  const c = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), storageKey: null, backoff: { initialMs: 10000 }, ports: [21443], maxQueue: 2 });
  await waitFor("open", () => c.status === "open");
  for (const m of ["1", "2", "3", "4"]) c.send(m);
  all[0].drop(1013, "engine unavailable");
  assert.equal(c.queued, 0, "kept more than maxQueue, or kept a partial tail");
  c.close();
});

// ---- shared computers: another user's bridge (issue 16) --------------------

const otherUser = (yourPort) => ({
  status: 403,
  body: yourPort
    ? { app: "Orion Bridge", error: "other-user", message: "this Orion Bridge belongs to another user of this computer", your_port: yourPort }
    : { app: "Orion Bridge", error: "no-bridge-for-user", message: "this Orion Bridge belongs to another user of this computer" },
});

// fakeStorage stands in for the page's localStorage.
function fakeStorage() {
  const m = new Map();
  const st = { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
  Object.defineProperty(globalThis, "localStorage", { value: st, configurable: true, writable: true });
  return m;
}

test("discoveredPort and withPort", () => {
  assert.equal(discoveredPort(otherUser(21447).body), 21447);
  assert.equal(discoveredPort(otherUser(0).body), null);
  assert.equal(discoveredPort({ app: "Something else", error: "other-user", your_port: 1 }), null);
  assert.equal(discoveredPort({ app: "Orion Bridge", error: "other-user", your_port: 70000 }), null);
  assert.equal(discoveredPort(healthy(true)), null);
  assert.deepEqual(withPort([21443, 21444], 21447), [21447, 21443, 21444]);
  assert.deepEqual(withPort([21443, 21444], 21444), [21444, 21443]);
  assert.deepEqual(withPort([21443], null), [21443]);
});

test("another user's bridge is no-bridge-for-user, beaten by our own", () => {
  const theirs = { port: 21443, https: true, health: otherUser(0).body, plain: "skipped" };
  let f = diagnose({ route: "/ws", probes: [theirs, { port: 21444, https: false, health: null, plain: "none" }] });
  assert.equal(f.reason, "no-bridge-for-user");
  assert.equal(f.message, "no bridge running for this user");
  assert.equal(f.port, 21443);
  assert.match(f.detail, /another user of this computer, and you have no Orion Bridge running/);
  f = diagnose({ route: "/ws", probes: [theirs, { port: 21447, https: true, health: healthy(false), plain: "skipped" }] });
  assert.equal(f.reason, "engine-down");
  assert.equal(f.port, 21447);
});

test("follows another user's bridge to our port, never opens a socket on theirs, and remembers it", async () => {
  setPermission(undefined);
  const stored = fakeStorage();
  const { FakeSocket, all } = fakeSockets((url) => url.includes(":21447/") ? "open" : 1006);
  const fetch = fakeFetch({
    "https://localhost:21443/health cors": otherUser(21447),
    "https://localhost:21447/health cors": healthy(true),
  });
  const c = connect({ WebSocket: FakeSocket, fetch, ports: [21443], backoff: fast });
  await waitFor("open", () => c.status === "open");
  assert.equal(c.port, 21447);
  assert.deepEqual(all.map((s) => s.url), ["wss://localhost:21447/ws"]);
  assert.equal(stored.get("orionbridge.port"), "21447");
  c.close();
  // The next page load starts at the remembered port, though it is not in ports.
  const again = connect({ WebSocket: FakeSocket, fetch: fakeFetch({}), ports: [21443], backoff: fast });
  await waitFor("open", () => again.status === "open");
  assert.equal(all[1].url, "wss://localhost:21447/ws");
  again.close();
  delete globalThis.localStorage;
});

test("no bridge for this user: named, and nothing of the other user's is used", async () => {
  setPermission(undefined);
  const { FakeSocket, all } = fakeSockets(() => 1006); // the other user's bridge refuses the handshake
  const fetch = fakeFetch({ "https://localhost:21443/health cors": otherUser(0) });
  const c = connect({ WebSocket: FakeSocket, fetch, ports: [21443, 21444], storageKey: null, backoff: fast, reconnect: false });
  const seen = record(c);
  await waitFor("closed", () => c.status === "closed");
  assert.deepEqual(seen.failures, ["no-bridge-for-user"]);
  assert.equal(c.failure.port, 21443);
  assert.ok(all.every((s) => s.readyState === 3));
});

test("another user's bridge with a certificate we do not trust: its plain-HTTP answer leads the way", async () => {
  setPermission(undefined);
  const stored = fakeStorage();
  const { FakeSocket, all } = fakeSockets((url) => url.includes(":21448/") ? "open" : 1006);
  const fetch = fakeFetch({
    "http://localhost:21443/health cors": otherUser(21448),
    "https://localhost:21448/health cors": healthy(true),
  });
  const c = connect({ WebSocket: FakeSocket, fetch, ports: [21443], backoff: fast });
  await waitFor("open", () => c.status === "open");
  assert.deepEqual(all.map((s) => s.url), ["wss://localhost:21448/ws"]);
  assert.equal(stored.get("orionbridge.port"), "21448");
  c.close();
  delete globalThis.localStorage;
  const r = await probe({ ports: [21443], fetch, WebSocket: class {}, storageKey: null });
  assert.equal(r.probes[0].health.error, "other-user");
  assert.equal(r.port, 21448);
  assert.equal(r.failure, null);
});

test("probe() also asks the port another user's bridge named", async () => {
  setPermission(undefined);
  const fetch = fakeFetch({
    "https://localhost:21443/health cors": otherUser(21460),
    "https://localhost:21460/health cors": healthy(true),
  });
  const r = await probe({ ports: [21443], fetch, WebSocket: class {}, storageKey: null });
  assert.deepEqual(r.probes.map((p) => p.port), [21443, 21460]);
  assert.equal(r.failure, null);
  assert.equal(r.port, 21460);
  assert.equal(r.health.status, "ok");
});

// ---- message(reason, lang): issue 18 ----------------------------------------

test("message() speaks the first language it has, else English", () => {
  const cases = [
    ["ko", "permission", MESSAGES.ko.permission],
    ["ko-KR", "not-running", MESSAGES.ko["not-running"]],
    [["fr-FR", "ko", "en"], "certificate", MESSAGES.ko.certificate],
    [["fr-FR", "de"], "token", REASONS.token],
    ["en-GB", "origin", REASONS.origin],
    ["", "engine-down", REASONS["engine-down"]],
    ["ko", "no-such-reason", "no-such-reason"],
  ];
  for (const [lang, reason, want] of cases) {
    assert.equal(message(reason, lang), want, JSON.stringify([reason, lang]));
  }
  assert.match(message("permission", "ko"), /[\uac00-\ud7a3]/, "Korean is Hangul");
});

test("message() follows navigator.languages when no language is given", () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: { languages: ["ko-KR", "en-US"] }, configurable: true });
  try {
    assert.equal(message("origin"), MESSAGES.ko.origin);
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("every language has a message for every reason code", () => {
  for (const [lang, table] of Object.entries(MESSAGES)) {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(REASONS).sort(), lang);
  }
  assert.equal(matchLanguage(["pt-BR", "ko_KR"], ["en", "ko"]), "ko");
  assert.equal(matchLanguage(undefined, ["en", "ko"]), "en");
});
