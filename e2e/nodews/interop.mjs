// A second WebSocket client implementation against the bridge: Node's `ws`
// (pinned in package-lock.json), with its default options, so it offers
// permessage-deflate as it does out of the box. e2e/nodews_test.go starts
// the bridge and an echo engine behind one route per framing, then runs
//
//   node interop.mjs
//
// with BRIDGE (wss://localhost:PORT), CA (the bridge's ca.pem) and ORIGIN
// (an allowed origin) in the environment. Each check prints one JSON line;
// the first failure exits 1 with what differed.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import WebSocket, { WebSocketServer } from "ws";

const { BRIDGE, CA, ORIGIN } = process.env;
if (!BRIDGE || !CA || !ORIGIN) {
  console.error("interop.mjs: set BRIDGE, CA and ORIGIN (e2e/nodews_test.go does)");
  process.exit(2);
}
const ca = readFileSync(CA);

// open connects with ws's defaults (perMessageDeflate on) and resolves with
// the socket, the extensions the bridge accepted, and a reader of messages.
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(BRIDGE + path, { ca, origin: ORIGIN });
    const queue = [];
    const waiters = [];
    let closed = null;
    let upgradeExtensions;
    ws.on("upgrade", (res) => { upgradeExtensions = res.headers["sec-websocket-extensions"]; });
    ws.on("message", (data, isBinary) => {
      const m = { data: Buffer.from(data), binary: isBinary };
      const w = waiters.shift();
      if (w) w.resolve(m); else queue.push(m);
    });
    ws.on("close", (code, reason) => {
      closed = { code, reason: reason.toString() };
      for (const w of waiters.splice(0)) w.reject(new Error("closed " + code + " " + closed.reason));
    });
    ws.on("error", reject);
    ws.on("open", () => {
      const next = () => {
        if (queue.length) return Promise.resolve(queue.shift());
        if (closed) return Promise.reject(new Error("closed " + closed.code + " " + closed.reason));
        return new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
      };
      const closedP = new Promise((res) => ws.once("close", (code, reason) => res({ code, reason: reason.toString() })));
      resolve({ ws, next, closed: () => (closed ? Promise.resolve(closed) : closedP), upgradeExtensions });
    });
  });
}

const send = (ws, data, binary) => new Promise((res, rej) => ws.send(data, { binary }, (err) => (err ? rej(err) : res())));

// expectMessages reads len(want) messages and compares data and type.
async function expectMessages(c, want) {
  for (const [i, w] of want.entries()) {
    const m = await c.next();
    assert.equal(m.binary, w.binary, `message ${i}: binary ${m.binary}, want ${w.binary}`);
    assert.ok(m.data.equals(Buffer.from(w.data)), `message ${i}: got ${JSON.stringify(m.data.toString("latin1").slice(0, 80))}, want ${JSON.stringify(Buffer.from(w.data).toString("latin1").slice(0, 80))}`);
  }
}

// compressible is a large, very compressible payload: what deflate would
// shrink, were it on.
const compressible = (n) => "orion bridge ".repeat(Math.ceil(n / 13)).slice(0, n);
const bytes = (...b) => Buffer.from(b);

const cases = {
  // raw: bytes both ways; the engine's reads split the echo wherever they
  // fall, so the echo is compared as one stream.
  async "/raw"(c) {
    const parts = [Buffer.from("hello"), bytes(0, 1, 2, 255), Buffer.from(compressible(300 << 10))];
    for (const [i, p] of parts.entries()) await send(c.ws, p, i !== 0);
    const want = Buffer.concat(parts);
    let got = Buffer.alloc(0);
    while (got.length < want.length) {
      const m = await c.next();
      assert.equal(m.binary, true, "raw framing sends binary messages");
      got = Buffer.concat([got, m.data]);
    }
    assert.ok(got.equals(want), "raw echo differs");
    return { messages: parts.length, bytes: want.length };
  },
  // lines (lf): each message a line; the echo comes back line by line, text
  // when UTF-8, binary when not; a '\r' the engine sends stays.
  async "/lines"(c) {
    const sent = ["one", "two words", "", "wörld ✓", compressible(200 << 10)];
    for (const s of sent) await send(c.ws, s, false);
    await send(c.ws, bytes(0xff, 0xfe), true);
    await expectMessages(c, [...sent.map((s) => ({ data: s, binary: false })), { data: bytes(0xff, 0xfe), binary: true }]);
    return { messages: sent.length + 1 };
  },
  // lines with crlf: out with "\r\n", and the echo's "\r\n" is taken off again.
  async "/crlf"(c) {
    const sent = ["SET orion bridge", "GET orion", "", "tab\tinside", compressible(200 << 10)];
    for (const s of sent) await send(c.ws, s, false);
    await expectMessages(c, sent.map((s) => ({ data: s, binary: false })));
    return { messages: sent.length };
  },
  // length-prefixed: every message comes back whole, as binary, at any size.
  async "/framed"(c) {
    const sent = [Buffer.alloc(0), Buffer.from("hello"), Buffer.from(compressible(500 << 10)), bytes(0, 0, 0, 4)];
    for (const s of sent) await send(c.ws, s, true);
    await send(c.ws, "text in, binary back", false);
    await expectMessages(c, [...sent.map((s) => ({ data: s, binary: true })), { data: "text in, binary back", binary: true }]);
    return { messages: sent.length + 1 };
  },
};

// First, that the client used below does offer permessage-deflate: against
// a ws server that accepts it (plain ws://, loopback), it is negotiated.
{
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
  await new Promise((res) => server.once("listening", res));
  const offered = await new Promise((res, rej) => {
    server.once("connection", (_, req) => res(req.headers["sec-websocket-extensions"]));
    new WebSocket("ws://127.0.0.1:" + server.address().port).on("error", rej);
  });
  assert.match(String(offered), /permessage-deflate/, "ws did not offer permessage-deflate by default");
  for (const c of server.clients) c.terminate();
  await new Promise((res) => server.close(res));
  console.log(JSON.stringify({ control: true, offered }));
}

for (const [path, run] of Object.entries(cases)) {
  const c = await open(path);
  // The bridge does not negotiate compression: ws offered it, the answer
  // carries no Sec-WebSocket-Extensions, and ws speaks plain frames.
  assert.equal(c.upgradeExtensions, undefined, `${path}: the bridge answered Sec-WebSocket-Extensions: ${c.upgradeExtensions}`);
  assert.equal(c.ws.extensions, "", `${path}: negotiated extensions ${c.ws.extensions}`);
  const result = await run(c);
  c.ws.close(1000, "done");
  const closed = await c.closed();
  assert.equal(closed.code, 1000, `${path}: closed with ${closed.code} ${closed.reason}`);
  console.log(JSON.stringify({ path, ok: true, extensions: c.ws.extensions, ...result }));
}

// The 1007 rule, as ws sees it: a line break in a lines message, on both
// line endings, closes the session and names why.
for (const path of ["/lines", "/crlf"]) {
  const c = await open(path);
  await send(c.ws, "two\r\ncommands", false);
  const closed = await c.closed();
  assert.equal(closed.code, 1007, `${path}: closed with ${closed.code}, want 1007`);
  assert.match(closed.reason, /^message contains a line break/, `${path}: reason ${closed.reason}`);
  console.log(JSON.stringify({ path, ok: true, refused: closed.code, reason: closed.reason }));
}
