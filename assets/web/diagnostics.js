// Orion Bridge diagnostics page.
//
// Served by the bridge itself under a strict Content-Security-Policy: no
// inline script or style, no eval, no external resources. Everything shown
// is built with createElement/textContent, so data from /health, the engine
// or the user is never parsed as HTML. It uses the same client as any web
// page (client.js): probe() for the checks, connect() for the console.

import { connect, probe, localNetworkPermission, message } from "./client.js";
import { language, loadLanguage, t } from "./i18n.js";

const REFRESH_MS = 5000;
const LOG_MAX = 500;
const PREVIEW_BYTES = 256; // binary bytes shown in hex per log entry
const PREVIEW_CHARS = 4000; // text characters shown per log entry

const CLOSE_CODES = {
  1000: "normal closure: the engine closed the connection, or you disconnected",
  1001: "going away: the bridge is shutting down (or the page is being left)",
  1002: "protocol error: a WebSocket protocol violation was detected",
  1003: "unsupported data: a message type was not accepted",
  1005: "no status code: the connection was closed without a close code",
  1006: "connection failed or dropped: no close frame (the browser gives no details)",
  1007: "invalid data: a text message was not valid UTF-8",
  1008: "policy violation",
  1009: "message too large: a message exceeded max_message_bytes",
  1010: "mandatory extension missing",
  1011: "engine error: the report engine's connection failed",
  1012: "service restart",
  1013: "engine unavailable: the report engine is not running; try again later",
  1015: "TLS handshake failed: the certificate is not trusted",
};

// ---- small DOM helpers: text only, never parsed as HTML -----------------

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function clock(d) {
  const p = (n, w) => String(n).padStart(w, "0");
  return p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" + p(d.getSeconds(), 2) + "." + p(d.getMilliseconds(), 3);
}

function str(v, fallback) {
  return v === undefined || v === null || v === "" ? fallback : String(v);
}

function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

function capital(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

// ---- endpoint ------------------------------------------------------------

const port = Number(location.port) || 443;
const endpoint = "wss://" + location.host;
// The page is the bridge's own origin, so the client talks to this host and
// port only. Its plain-HTTP probe is off: connect-src does not list
// http://, and the page could not have loaded if TLS were the problem.
const clientBase = { host: location.hostname, ports: [port], probeHttp: false, storageKey: null };

// ---- status (probe + /health) ----------------------------------------------

let health = null; // last good /health body
let refreshTimer = null;
let inFlight = false;

function setBridgeStatus(kind, text) {
  const p = $("bridge-status");
  p.className = "status status-" + kind;
  p.textContent = text;
}

function setCheck(name, state, text, fix) {
  const row = $("check-" + name);
  row.dataset.state = state;
  $("check-" + name + "-text").textContent = text;
  const f = $("check-" + name + "-fix");
  if (f) {
    f.textContent = fix || "";
    f.hidden = !fix;
    // A fix stands out; for a passing check the line is just a note.
    f.className = state === "bad" || state === "warn" ? "check-fix" : "check-note";
  }
}

// framingText is a route's framing, with the line ending of a lines route
// ("lines, crlf"; a bridge that names none means lf).
function framingText(r) {
  const framing = str(r.framing, "?");
  return framing === "lines" ? framing + ", " + str(r.line_ending, "lf") : framing;
}

function renderRoutes(routes) {
  const body = $("routes-body");
  clear(body);
  if (!routes.length) {
    const tr = el("tr");
    const td = el("td", "muted", t("page.routes.none", "The bridge has no routes configured."));
    td.colSpan = 4;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const r of routes) {
    const tr = el("tr");
    const path = el("td");
    path.appendChild(el("code", null, str(r.path, "?")));
    tr.appendChild(path);
    const target = el("td");
    target.appendChild(el("code", null, str(r.target, "?")));
    tr.appendChild(target);
    tr.appendChild(el("td", null, r.framing ? framingText(r) : "—"));
    const engine = el("td");
    if (r.reachable === true) {
      engine.appendChild(el("span", "pill pill-ok", t("page.engine.reachable", "reachable")));
    } else if (r.reachable === false) {
      engine.appendChild(el("span", "pill pill-bad", t("page.engine.unreachable", "not reachable")));
      engine.appendChild(el("div", "error", t("page.engine.nothing_answers", "Nothing answers at {{.Target}}: start the report engine.", { Target: str(r.target, "?") })));
    } else {
      engine.appendChild(el("span", "pill pill-idle", t("page.engine.unknown", "unknown")));
    }
    if (r.engine) engine.appendChild(el("div", "muted", "managed engine: " + r.engine));
    tr.appendChild(engine);
    body.appendChild(tr);
  }
}

function addField(dl, label, value, valueClass) {
  const row = el("div");
  row.appendChild(el("dt", null, label));
  const dd = el("dd", valueClass || null);
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = value;
  row.appendChild(dd);
  dl.appendChild(row);
}

function renderCertificate(cert) {
  const box = $("certificate");
  const dl = $("certificate-fields");
  clear(dl);
  if (!cert || typeof cert !== "object") {
    box.hidden = true;
    // This page loaded over https, so this browser accepted the certificate.
    setCheck("certificate", "ok", t("page.cert.page_trusted", "This browser trusts the bridge's certificate (this page loaded over HTTPS)."));
    return;
  }
  const trusted = el("span");
  if (cert.trusted === true) {
    trusted.appendChild(el("span", "pill pill-ok", t("page.cert.pill_trusted", "trusted")));
    setCheck("certificate", "ok", t("page.cert.trusted", "Trusted by this system's browsers.") +
      (cert.fingerprint ? " " + t("page.cert.fingerprint", "CA fingerprint {{.Fingerprint}}…", { Fingerprint: String(cert.fingerprint).slice(0, 23) }) : ""));
  } else {
    trusted.appendChild(el("span", "pill pill-bad", t("page.cert.pill_untrusted", "not trusted")));
    trusted.appendChild(el("div", "muted", t("page.cert.untrusted_note", "Browsers refuse wss:// to the bridge until its CA certificate is installed as trusted.")));
    setCheck("certificate", "bad", t("page.cert.not_trusted", "Not trusted by this system's browsers: other sites cannot connect."),
      cert.fix ? t("page.cert.fix_with", "Fix: run \"Trust Certificate\" in the tray, or {{.Fix}}.", { Fix: cert.fix })
        : t("page.cert.fix", "Fix: run \"Trust Certificate\" in the tray, or on the command line: orionbridge certs install."));
  }
  addField(dl, t("page.cert.field_trusted", "Trusted by this system"), trusted);
  const kinds = {
    machine: t("page.cert.kind_machine", "this computer's certificate, set up for every user by the administrator's install"),
    user: t("page.cert.kind_user", "this user's own certificate (no machine certificate is installed)"),
    external: t("page.cert.kind_external", "the organisation's certificate (cert_file and key_file)"),
  };
  if (kinds[cert.kind]) addField(dl, t("page.cert.field_served", "Served"), kinds[cert.kind]);
  if (cert.ca_path) addField(dl, t("page.cert.field_ca", "CA certificate"), el("code", "wrap", cert.ca_path));
  if (cert.fingerprint) addField(dl, t("page.cert.field_fingerprint", "Fingerprint"), el("code", "wrap", cert.fingerprint));
  if (cert.not_after) {
    let text = String(cert.not_after);
    let expired = false;
    const d = new Date(text);
    if (!isNaN(d.getTime())) {
      const days = Math.floor((d.getTime() - Date.now()) / 86400000);
      expired = days < 0;
      text += " " + (expired ? t("page.cert.expired", "(expired)")
        : t("page.cert.days_left", { one: "({{.Count}} day left)", other: "({{.Count}} days left)" }, { Count: days }));
    }
    addField(dl, t("page.cert.field_valid_until", "Valid until"), text, expired ? "error" : null);
  }
  box.hidden = false;
}

// renderBrowserPolicy lists the browsers that have IT's Local Network
// Access policy for the bridge's sites (/health "browser_policy", present
// only when some browser has it).
function renderBrowserPolicy(list) {
  const dl = $("certificate-fields");
  if (!Array.isArray(list) || !list.length) return;
  const value = el("span");
  for (const b of list) {
    const state = !b.in_place ? "not set" : b.current ? "approved" : "out of date";
    const pill = el("span", "pill " + (b.in_place && b.current ? "pill-ok" : "pill-bad"), String(b.browser) + ": " + state);
    value.appendChild(pill);
    value.appendChild(document.createTextNode(" "));
  }
  if (list.some((b) => b.in_place && !b.current)) {
    value.appendChild(el("div", "muted", "allowed_origins changed since IT installed the policy: run orionbridge policy install again."));
  }
  addField(dl, "Local Network Access policy", value);
}

function renderEngines(routes) {
  const down = routes.filter((r) => r.reachable === false);
  if (!routes.length) {
    setCheck("engines", "warn", t("page.engines.none", "No routes are configured."), t("page.engines.none_fix", "Fix: add [[routes]] to the configuration."));
  } else if (down.length) {
    setCheck("engines", "bad", t("page.engines.down", { one: "{{.Count}} engine not reachable: {{.List}}.", other: "{{.Count}} engines not reachable: {{.List}}." },
      { Count: down.length, List: down.map((r) => r.path + " → " + r.target).join(", ") }),
    t("page.engines.down_fix", "Fix: start the report engine; sessions on these routes close with 1013 until it runs."));
  } else {
    setCheck("engines", "ok", t("page.engines.ok", "Every route's engine answers ({{.List}}).", { List: routes.map((r) => r.path).join(", ") }));
  }
}

function renderOrigin(result) {
  // The bridge always allows its own diagnostics page; probe() confirms it
  // the way a web page would, by reading /health with CORS.
  if (result.health) {
    setCheck("origin", "ok", t("page.origin.ok", "Allowed: the bridge always allows its own diagnostics page."),
      t("page.origin.ok_hint", "Other sites need \"Allow\" in the tray (or allowed_origins); the client reports \"origin\" for one that is not allowed."));
  } else if (result.failure && result.failure.reason === "origin") {
    setCheck("origin", "bad", t("page.origin.bad", "{{.Origin}} is not allowed.", { Origin: location.origin }),
      t("page.fix", "Fix: {{.Text}}.", { Text: message("origin", language()) }));
  } else {
    setCheck("origin", "pending", t("page.origin.unknown", "Unknown while the bridge does not answer."));
  }
}

async function renderPermission() {
  const state = await localNetworkPermission();
  const text = {
    granted: t("page.permission.granted", "Granted for this page."),
    prompt: t("page.permission.prompt", "Not needed on localhost. Public sites must ask the user for it (Chrome)."),
    denied: t("page.permission.denied", "Denied for this page: {{.Reason}}.", { Reason: message("permission", language()) }),
    unsupported: t("page.permission.unsupported", "This browser has no Local Network Access permission."),
  }[state] || state;
  setCheck("permission", state === "denied" ? "bad" : "ok", text);
}

function renderHealth(h) {
  const routes = Array.isArray(h.routes) ? h.routes : [];
  $("version").textContent = str(h.version, "unknown");
  // Whose bridge: /health names the user only to this page (same origin),
  // never to other sites; other users' browsers get 403 (issue 16).
  $("user").textContent = str(h.user, "unknown");
  const down = routes.filter((r) => r.reachable === false).length;
  const sessions = typeof h.sessions === "number" ? h.sessions : null;
  let summary = (h.status === "ok" ? t("page.summary.ok", "Bridge OK") : t("page.summary.status", "Bridge {{.Status}}", { Status: str(h.status, "status unknown") })) +
    (sessions === null ? "" : " · " + t("page.summary.sessions", { one: "{{.Count}} active session", other: "{{.Count}} active sessions" }, { Count: sessions })) +
    " · " + t("page.summary.routes", { one: "{{.Count}} route", other: "{{.Count}} routes" }, { Count: routes.length });
  if (down) summary += " · " + t("page.summary.down", { one: "{{.Count}} engine not reachable", other: "{{.Count}} engines not reachable" }, { Count: down });
  const ok = h.status === "ok";
  setBridgeStatus(!ok ? "bad" : down ? "warn" : "ok", summary);
  renderRoutes(routes);
  renderCertificate(h.certificate);
  renderBrowserPolicy(h.browser_policy);
  renderEngines(routes);
  const key = (list) => JSON.stringify(list.map((r) => [r.path, r.target, r.framing, r.line_ending]));
  if (!health || key(routes) !== key(Array.isArray(health.routes) ? health.routes : [])) fillRouteSelect(routes);
  health = h;
}

async function refresh() {
  if (inFlight) return;
  inFlight = true;
  try {
    const result = await probe(Object.assign({}, clientBase, { route: $("route").value || "/ws" }));
    if (result.health) {
      renderHealth(result.health);
      $("checked-at").textContent = t("page.checked_at", "Checked at {{.Time}}.", { Time: clock(new Date()) });
    } else {
      const f = result.failure;
      setBridgeStatus("bad", t("page.not_responding", "Bridge not responding at {{.URL}}", { URL: location.origin + "/health" }) +
        (f ? ": " + message(f.reason, language()) + (f.detail ? " (" + f.detail + ")" : "") : ""));
      $("checked-at").textContent = t("page.last_attempt", "Last attempt at {{.Time}}.", { Time: clock(new Date()) });
    }
    renderOrigin(result);
    await renderPermission();
  } finally {
    inFlight = false;
  }
}

function scheduleRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
  if ($("auto-refresh").checked) {
    refreshTimer = setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
  }
}

function fillRouteSelect(routes) {
  const select = $("route");
  const previous = select.value;
  clear(select);
  if (!routes.length) {
    const opt = el("option", null, "(no routes)");
    opt.value = "";
    select.appendChild(opt);
  }
  for (const r of routes) {
    const opt = el("option", null, str(r.path, "?") + " → " + str(r.target, "?") + " (" + framingText(r) + ")");
    opt.value = str(r.path, "");
    select.appendChild(opt);
  }
  // Keep the user's choice across refreshes when the route still exists.
  for (let i = 0; i < select.options.length; i++) {
    if (select.options[i].value === previous) {
      select.selectedIndex = i;
      break;
    }
  }
  updateURL();
  updateState();
}

// ---- log -------------------------------------------------------------------

function log(kind, text, detail) {
  const list = $("log");
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  const li = el("li", "entry entry-" + kind);
  li.dataset.kind = kind;
  li.appendChild(el("span", "time", clock(new Date())));
  li.appendChild(el("span", "dir", { sent: "→", queued: "⋯", recv: "←", info: "•", error: "!", close: "×", open: "✓" }[kind] || "•"));
  const body = el("div", "body");
  body.appendChild(el("div", "text", text));
  if (detail) body.appendChild(el("div", "detail", detail));
  li.appendChild(body);
  list.appendChild(li);
  while (list.childNodes.length > LOG_MAX) list.removeChild(list.firstChild);
  if (stick) list.scrollTop = list.scrollHeight;
}

function toHex(bytes) {
  const n = Math.min(bytes.length, PREVIEW_BYTES);
  const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = bytes[i].toString(16).padStart(2, "0");
  return parts.join(" ") + (bytes.length > n ? " …" : "");
}

function describeBytes(bytes) {
  return plural(bytes.length, "byte") + (bytes.length > PREVIEW_BYTES ? " (first " + PREVIEW_BYTES + " shown)" : "");
}

// printable shows short binary that is plain ASCII as text too.
function printable(bytes) {
  if (bytes.length > 200) return "";
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return "";
  return " · \"" + String.fromCharCode(...bytes) + "\"";
}

function describeText(s) {
  return s.length > PREVIEW_CHARS ? s.slice(0, PREVIEW_CHARS) + " …" : s;
}

// parseHex accepts "de ad be ef", "deadbeef", "0xde,0xad", "de:ad".
// It returns {bytes} or {error}.
function parseHex(input) {
  const tokens = input.trim().split(/[\s,:;]+/).filter((t) => t !== "");
  if (!tokens.length) return { error: "Nothing to send: type hex bytes such as de ad be ef." };
  const out = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i].replace(/^0x/i, "");
    if (!/^[0-9a-fA-F]+$/.test(t)) {
      return { error: "Invalid hex \"" + tokens[i] + "\" (item " + (i + 1) + "): use hex digits 0-9 a-f, e.g. de ad be ef." };
    }
    if (t.length % 2 !== 0) {
      return { error: "Invalid hex \"" + tokens[i] + "\" (item " + (i + 1) + "): odd number of digits; each byte is two digits, e.g. 0f not f." };
    }
    for (let j = 0; j < t.length; j += 2) out.push(parseInt(t.slice(j, j + 2), 16));
  }
  return { bytes: new Uint8Array(out) };
}

// ---- console -----------------------------------------------------------------

let client = null;
let lastLoggedReason = "";

function updateURL() {
  const path = $("route").value;
  $("ws-url").textContent = path ? endpoint + path : "—";
}

function updateState() {
  const status = client ? client.status : "disconnected";
  const pill = $("ws-state");
  pill.textContent = status;
  pill.className = "pill " + ({ open: "pill-ok", connecting: "pill-warn", reconnecting: "pill-warn" }[status] || "pill-idle");
  const idle = !client;
  $("connect").disabled = !idle || !$("route").value;
  $("disconnect").disabled = idle;
  $("route").disabled = !idle;
  $("token").disabled = !idle;
  $("reconnect").disabled = !idle;
  // Sends are queued while (re)connecting, so they stay enabled.
  $("send-text").disabled = idle;
  $("send-binary").disabled = idle;
}

function showSendError(msg) {
  const p = $("send-error");
  p.textContent = msg || "";
  p.hidden = !msg;
}

function showConsoleFailure(f) {
  const p = $("console-failure");
  p.hidden = !f;
  p.textContent = f ? f.reason + ": " + capital(f.message) + "." + (f.detail ? " " + f.detail : "") : "";
}

function startConsole() {
  if (client) return;
  const route = $("route").value;
  if (!route) {
    log("error", "Choose a route first.");
    return;
  }
  const token = $("token").value.trim();
  lastLoggedReason = "";
  log("info", "Connecting to " + endpoint + route + (token ? " with subprotocol bearer.<token>" : "") + " …");
  const c = connect(Object.assign({}, clientBase, { route, token: token || undefined, reconnect: $("reconnect").checked }));
  client = c;
  c.on("status", (e) => {
    if (client !== c) return;
    const s = e.detail.status;
    if (s === "open") {
      lastLoggedReason = "";
      showConsoleFailure(null);
      log("open", "Connection opened to " + c.url, "subprotocol: " + (c.protocol || "none"));
    } else if (s === "reconnecting" && e.detail.previous === "open") {
      log("info", "Reconnecting by itself …");
    } else if (s === "closed") {
      log("info", "Closed; the console does not reconnect.");
      client = null;
    }
    updateState();
  });
  c.on("failure", (e) => {
    if (client !== c) return;
    const f = e.detail;
    showConsoleFailure(f);
    // One log line per new reason: retries with the same one stay quiet.
    if (f.reason !== lastLoggedReason) {
      lastLoggedReason = f.reason;
      log("error", "Failure \"" + f.reason + "\": " + capital(f.message) + ".", f.detail || null);
    }
  });
  c.on("retry", (e) => {
    $("ws-state").title = "next attempt in " + Math.round(e.detail.delayMs / 100) / 10 + " s";
  });
  c.on("close", (e) => {
    const d = e.detail;
    const meaning = CLOSE_CODES[d.code] || (d.code >= 4000 && d.code <= 4999 ? "application-defined code" : "unknown close code");
    log("close", "Closed with code " + d.code + ": " + meaning,
      "reason: " + (d.reason ? "\"" + d.reason + "\"" : "(none)") + (d.wasClean ? "" : " · not a clean close"));
  });
  c.on("message", (e) => {
    if (typeof e.data === "string") {
      log("recv", describeText(e.data), "text, " + plural(e.data.length, "character"));
    } else {
      const bytes = new Uint8Array(e.data);
      log("recv", toHex(bytes), "binary, " + describeBytes(bytes) + printable(bytes));
    }
  });
  updateState();
}

function stopConsole() {
  if (!client) return;
  const c = client;
  client = null;
  log("info", "Disconnecting …");
  c.close(1000, "closed from the diagnostics page");
  showConsoleFailure(null);
  updateState();
}

function sendData(data, shown, detail) {
  showSendError("");
  if (!client) return;
  try {
    const now = client.send(data);
    log(now ? "sent" : "queued", shown, detail + (now ? "" : " · queued until the session opens"));
  } catch (err) {
    showSendError(String(err && err.message ? err.message : err));
  }
}

function sendText() {
  const text = $("message").value;
  sendData(text, describeText(text), "text, " + plural(text.length, "character"));
}

function sendBinary() {
  const parsed = parseHex($("message").value);
  if (parsed.error) {
    showSendError(parsed.error);
    return;
  }
  sendData(parsed.bytes, toHex(parsed.bytes), "binary, " + describeBytes(parsed.bytes));
}

// ---- wiring ------------------------------------------------------------------

function init() {
  $("endpoint").textContent = endpoint;
  $("origin").textContent = location.origin;

  $("refresh").addEventListener("click", refresh);
  $("auto-refresh").addEventListener("change", scheduleRefresh);
  $("route").addEventListener("change", () => { updateURL(); updateState(); });
  $("connect-form").addEventListener("submit", (ev) => { ev.preventDefault(); startConsole(); });
  $("disconnect").addEventListener("click", stopConsole);
  $("send-form").addEventListener("submit", (ev) => { ev.preventDefault(); sendText(); });
  $("send-binary").addEventListener("click", sendBinary);
  $("message").addEventListener("input", () => showSendError(""));
  $("clear-log").addEventListener("click", () => clear($("log")));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && $("auto-refresh").checked) refresh();
  });

  updateState();
  refresh();
  scheduleRefresh();
}

// The page's language first (issue 18), then the page.
loadLanguage().then(init);
