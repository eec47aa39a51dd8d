// Orion Bridge diagnostics page.
//
// Served by the bridge itself under a strict Content-Security-Policy: no
// inline script or style, no eval, no external resources. Everything shown
// is built with createElement/textContent, so data from /health, the engine
// or the user is never parsed as HTML.
(function () {
  "use strict";

  var REFRESH_MS = 5000;
  var HEALTH_TIMEOUT_MS = 4000;
  var LOG_MAX = 500;
  var PREVIEW_BYTES = 256; // binary bytes shown in hex per log entry
  var PREVIEW_CHARS = 4000; // text characters shown per log entry

  var CLOSE_CODES = {
    1000: "normal closure: the session ended normally (the engine closed the connection, or you disconnected)",
    1001: "going away: the bridge is shutting down (or the page is being left)",
    1002: "protocol error: a WebSocket protocol violation was detected",
    1003: "unsupported data: a message type was not accepted",
    1005: "no status code: the connection was closed without a close code",
    1006: "connection failed: the bridge is not reachable or its certificate is not trusted",
    1007: "invalid data: a text message was not valid UTF-8",
    1008: "policy violation: the bridge refused this session (origin not allowed, token rejected or limit reached)",
    1009: "message too large: a message exceeded the bridge's size limit",
    1010: "mandatory extension missing",
    1011: "engine error: the report engine connection failed or the bridge hit an internal error",
    1012: "service restart: the bridge is restarting",
    1013: "engine unavailable: the report engine cannot take a session now; try again later",
    1015: "TLS handshake failed: the certificate is not trusted"
  };

  // ---- small DOM helpers: text only, never parsed as HTML ---------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }

  function clock(d) {
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" +
      pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
  }

  function str(v, fallback) {
    return v === undefined || v === null || v === "" ? fallback : String(v);
  }

  // ---- endpoint --------------------------------------------------------

  var wsScheme = location.protocol === "http:" ? "ws:" : "wss:";
  var endpoint = wsScheme + "//" + location.host;

  function wsURL(path) {
    path = String(path || "/");
    if (path.charAt(0) !== "/") path = "/" + path;
    return endpoint + path;
  }

  // ---- status (/health) ------------------------------------------------

  var health = null; // last good /health body
  var refreshTimer = null;
  var inFlight = false;

  function setBridgeStatus(kind, text) {
    var p = $("bridge-status");
    p.className = "status status-" + kind;
    p.textContent = text;
  }

  function renderRoutes(routes) {
    var body = $("routes-body");
    clear(body);
    if (!routes.length) {
      var tr = el("tr");
      var td = el("td", "muted", "The bridge has no routes configured.");
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    routes.forEach(function (r) {
      var tr = el("tr");
      var path = el("td");
      path.appendChild(el("code", null, str(r.path, "?")));
      tr.appendChild(path);
      var target = el("td");
      target.appendChild(el("code", null, str(r.target, "?")));
      tr.appendChild(target);
      tr.appendChild(el("td", null, str(r.framing, "—")));
      var engine = el("td");
      if (r.reachable === true) {
        engine.appendChild(el("span", "pill pill-ok", "reachable"));
      } else if (r.reachable === false) {
        engine.appendChild(el("span", "pill pill-bad", "not reachable"));
        engine.appendChild(el("div", "error",
          "engine not reachable at " + str(r.target, "?") + ": start the report engine"));
      } else {
        engine.appendChild(el("span", "pill pill-idle", "unknown"));
      }
      tr.appendChild(engine);
      body.appendChild(tr);
    });
  }

  function addField(dl, label, value, valueClass) {
    var row = el("div");
    row.appendChild(el("dt", null, label));
    var dd = el("dd", valueClass || null);
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = value;
    row.appendChild(dd);
    dl.appendChild(row);
  }

  function renderCertificate(cert) {
    var box = $("certificate");
    var dl = $("certificate-fields");
    clear(dl);
    if (!cert || typeof cert !== "object") {
      box.hidden = true;
      return;
    }
    var trusted = el("span");
    if (cert.trusted === true) {
      trusted.appendChild(el("span", "pill pill-ok", "trusted"));
    } else {
      trusted.appendChild(el("span", "pill pill-bad", "not trusted"));
      trusted.appendChild(el("div", "muted",
        "Browsers refuse wss:// to the bridge until its CA certificate is installed as trusted."));
    }
    addField(dl, "Trusted by this system", trusted);
    if (cert.ca_path) addField(dl, "CA certificate", el("code", "wrap", cert.ca_path));
    if (cert.fingerprint) addField(dl, "Fingerprint", el("code", "wrap", cert.fingerprint));
    if (cert.not_after) {
      var text = String(cert.not_after);
      var expired = false;
      var d = new Date(text);
      if (!isNaN(d.getTime())) {
        var days = Math.floor((d.getTime() - Date.now()) / 86400000);
        expired = days < 0;
        text += expired ? " (expired)" : " (" + days + " day" + (days === 1 ? "" : "s") + " left)";
      }
      addField(dl, "Valid until", text, expired ? "error" : null);
    }
    box.hidden = false;
  }

  function fillRouteSelect(routes) {
    var select = $("route");
    var previous = select.value;
    clear(select);
    if (!routes.length) {
      select.appendChild(el("option", null, "(no routes)"));
      select.options[0].value = "";
    }
    routes.forEach(function (r) {
      var opt = el("option", null, str(r.path, "?") + " → " + str(r.target, "?") +
        " (" + str(r.framing, "?") + ")");
      opt.value = str(r.path, "");
      select.appendChild(opt);
    });
    // Keep the user's choice across refreshes when the route still exists.
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === previous) {
        select.selectedIndex = i;
        break;
      }
    }
    updateURL();
  }

  function renderHealth(h) {
    var routes = Array.isArray(h.routes) ? h.routes : [];
    $("version").textContent = str(h.version, "unknown");
    var down = routes.filter(function (r) { return r.reachable === false; }).length;
    var sessions = typeof h.sessions === "number" ? h.sessions : null;
    var summary = "Bridge " + (h.status === "ok" ? "OK" : str(h.status, "status unknown")) +
      (sessions === null ? "" : " · " + sessions + " active session" + (sessions === 1 ? "" : "s")) +
      " · " + routes.length + " route" + (routes.length === 1 ? "" : "s");
    if (down) summary += " · " + down + " engine" + (down === 1 ? "" : "s") + " not reachable";
    var ok = h.status === "ok";
    setBridgeStatus(!ok ? "bad" : down ? "warn" : "ok", summary);
    renderRoutes(routes);
    renderCertificate(h.certificate);
    var routesChanged = JSON.stringify(routes.map(function (r) { return [r.path, r.target, r.framing]; })) !==
      JSON.stringify((health && Array.isArray(health.routes) ? health.routes : []).map(function (r) {
        return [r.path, r.target, r.framing];
      }));
    if (!health || routesChanged) fillRouteSelect(routes);
    health = h;
  }

  function refresh() {
    if (inFlight) return;
    inFlight = true;
    var ctrl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) ctrl.abort(); }, HEALTH_TIMEOUT_MS);
    fetch("/health", {
      cache: "no-store",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status + " " + res.statusText);
      return res.json();
    }).then(function (h) {
      if (!h || typeof h !== "object") throw new Error("unexpected /health body");
      renderHealth(h);
      $("checked-at").textContent = "Checked at " + clock(new Date()) + ".";
    }).catch(function (err) {
      var why = err && err.name === "AbortError" ? "no answer within " + HEALTH_TIMEOUT_MS / 1000 + " s" :
        String(err && err.message ? err.message : err);
      setBridgeStatus("bad", "Bridge not responding at " + location.origin + "/health: " + why);
      $("checked-at").textContent = "Last attempt at " + clock(new Date()) + ".";
    }).then(function () {
      clearTimeout(timer);
      inFlight = false;
    });
  }

  function scheduleRefresh() {
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = null;
    if ($("auto-refresh").checked) {
      refreshTimer = setInterval(function () {
        if (!document.hidden) refresh();
      }, REFRESH_MS);
    }
  }

  // ---- log -------------------------------------------------------------

  function log(kind, text, detail) {
    var list = $("log");
    var stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    var li = el("li", "entry entry-" + kind);
    li.appendChild(el("span", "time", clock(new Date())));
    li.appendChild(el("span", "dir", { sent: "→", recv: "←", info: "•", error: "!", close: "×", open: "✓" }[kind] || "•"));
    var body = el("div", "body");
    body.appendChild(el("div", "text", text));
    if (detail) body.appendChild(el("div", "detail", detail));
    li.appendChild(body);
    list.appendChild(li);
    while (list.childNodes.length > LOG_MAX) list.removeChild(list.firstChild);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function toHex(bytes) {
    var n = Math.min(bytes.length, PREVIEW_BYTES);
    var parts = new Array(n);
    for (var i = 0; i < n; i++) parts[i] = pad(bytes[i].toString(16), 2);
    return parts.join(" ") + (bytes.length > n ? " …" : "");
  }

  function describeBytes(bytes) {
    return bytes.length + " byte" + (bytes.length === 1 ? "" : "s") +
      (bytes.length > PREVIEW_BYTES ? " (first " + PREVIEW_BYTES + " shown)" : "");
  }

  function describeText(s) {
    return s.length > PREVIEW_CHARS ? s.slice(0, PREVIEW_CHARS) + " …" : s;
  }

  // parseHex accepts "de ad be ef", "deadbeef", "0xde,0xad", "de:ad".
  // It returns {bytes} or {error}.
  function parseHex(input) {
    var tokens = input.trim().split(/[\s,:;]+/).filter(function (t) { return t !== ""; });
    if (!tokens.length) return { error: "Nothing to send: type hex bytes such as de ad be ef." };
    var out = [];
    for (var i = 0; i < tokens.length; i++) {
      var t = tokens[i].replace(/^0x/i, "");
      if (!/^[0-9a-fA-F]+$/.test(t)) {
        return { error: "Invalid hex \"" + tokens[i] + "\" (item " + (i + 1) + "): use hex digits 0-9 a-f, e.g. de ad be ef." };
      }
      if (t.length % 2 !== 0) {
        return { error: "Invalid hex \"" + tokens[i] + "\" (item " + (i + 1) + "): odd number of digits; each byte is two digits, e.g. 0f not f." };
      }
      for (var j = 0; j < t.length; j += 2) out.push(parseInt(t.substr(j, 2), 16));
    }
    return { bytes: new Uint8Array(out) };
  }

  // ---- console ---------------------------------------------------------

  var ws = null;

  function stateName(s) {
    return ["connecting", "open", "closing", "disconnected"][s] || "disconnected";
  }

  function updateURL() {
    var path = $("route").value;
    $("ws-url").textContent = path ? wsURL(path) : "—";
  }

  function updateState() {
    var s = ws ? ws.readyState : 3;
    var pill = $("ws-state");
    pill.textContent = stateName(s);
    pill.className = "pill " + (s === 1 ? "pill-ok" : s === 3 ? "pill-idle" : "pill-warn");
    $("connect").disabled = s !== 3 || !$("route").value;
    $("disconnect").disabled = s === 3;
    $("route").disabled = s !== 3;
    $("token").disabled = s !== 3;
    $("send-text").disabled = s !== 1;
    $("send-binary").disabled = s !== 1;
  }

  function showSendError(msg) {
    var p = $("send-error");
    p.textContent = msg || "";
    p.hidden = !msg;
  }

  function connect() {
    if (ws) return;
    var path = $("route").value;
    if (!path) {
      log("error", "Choose a route first.");
      return;
    }
    var url = wsURL(path);
    var token = $("token").value.trim();
    var protocols = token ? ["bearer." + token] : [];
    var sock;
    try {
      sock = new WebSocket(url, protocols);
    } catch (err) {
      // The browser's message would repeat the token, so it is not shown when one is set.
      log("error", "Cannot open " + url + ": " + (token ?
        "the token contains characters a WebSocket subprotocol cannot carry" :
        (err && err.message ? err.message : String(err))),
        token ? "A token may contain only letters, digits and !#$%&'*+-.^_`|~ (it is sent as subprotocol bearer.<token>)." : null);
      return;
    }
    sock.binaryType = "arraybuffer";
    ws = sock;
    log("info", "Connecting to " + url + (token ? " with subprotocol bearer.<token>" : "") + " …");
    sock.onopen = function () {
      if (ws !== sock) return;
      var proto = sock.protocol ? (sock.protocol.indexOf("bearer.") === 0 ? "bearer.<token>" : sock.protocol) : "none";
      log("open", "Connection opened to " + url, "subprotocol: " + proto);
      updateState();
    };
    sock.onmessage = function (ev) {
      if (ws !== sock) return;
      if (typeof ev.data === "string") {
        log("recv", describeText(ev.data), "text, " + ev.data.length + " character" + (ev.data.length === 1 ? "" : "s"));
      } else {
        var bytes = new Uint8Array(ev.data);
        log("recv", toHex(bytes), "binary, " + describeBytes(bytes));
      }
    };
    sock.onerror = function () {
      if (ws !== sock) return;
      log("error", "Connection error (the browser gives no details; see the close code below).");
    };
    sock.onclose = function (ev) {
      if (ws !== sock) return;
      ws = null;
      var meaning = CLOSE_CODES[ev.code] ||
        (ev.code >= 4000 && ev.code <= 4999 ? "application-defined code" : "unknown close code");
      var detail = "reason: " + (ev.reason ? "\"" + ev.reason + "\"" : "(none)") +
        (ev.wasClean ? "" : " · not a clean close");
      if (ev.code === 1006) {
        detail += " · also seen when the bridge refuses the handshake (origin not allowed or token rejected)";
      }
      log("close", "Closed with code " + ev.code + ": " + meaning, detail);
      updateState();
    };
    updateState();
  }

  function disconnect() {
    if (!ws) return;
    if (ws.readyState === 0 || ws.readyState === 1) {
      log("info", "Disconnecting …");
      ws.close(1000, "closed from the diagnostics page");
    }
    updateState();
  }

  function sendText() {
    showSendError("");
    if (!ws || ws.readyState !== 1) return;
    var text = $("message").value;
    ws.send(text);
    log("sent", describeText(text), "text, " + text.length + " character" + (text.length === 1 ? "" : "s"));
  }

  function sendBinary() {
    showSendError("");
    if (!ws || ws.readyState !== 1) return;
    var parsed = parseHex($("message").value);
    if (parsed.error) {
      showSendError(parsed.error);
      return;
    }
    ws.send(parsed.bytes);
    log("sent", toHex(parsed.bytes), "binary, " + describeBytes(parsed.bytes));
  }

  // ---- wiring ----------------------------------------------------------

  function init() {
    $("endpoint").textContent = endpoint;
    $("origin").textContent = location.origin;
    $("origin-note").textContent = location.origin;

    $("refresh").addEventListener("click", refresh);
    $("auto-refresh").addEventListener("change", scheduleRefresh);
    $("route").addEventListener("change", function () { updateURL(); updateState(); });
    $("connect-form").addEventListener("submit", function (ev) { ev.preventDefault(); connect(); });
    $("disconnect").addEventListener("click", disconnect);
    $("send-form").addEventListener("submit", function (ev) { ev.preventDefault(); sendText(); });
    $("send-binary").addEventListener("click", sendBinary);
    $("message").addEventListener("input", function () { showSendError(""); });
    $("clear-log").addEventListener("click", function () { clear($("log")); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && $("auto-refresh").checked) refresh();
    });

    updateState();
    refresh();
    scheduleRefresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
