// The example shop page: it embeds the editor from another origin and shows
// the status the editor posts back. It never talks to the bridge itself.
//
// The shop and the editor are served by the same demo site under the two
// loopback names, so the iframe is cross-origin as it would be between a
// shop and the editor vendor: the shop on 127.0.0.1, the editor on localhost
// (or the other way round).
//
// It speaks the browser's language (navigator.languages) from the
// catalogues Orion Bridge ships (/i18n.js, /i18n/<tag>.json), and explains
// a failure with client.js's message(reason, lang), which works even when
// the bridge does not run (issue 18).

import { message } from "/client.js";
import { language, loadLanguage, t } from "/i18n.js";

const $ = (id) => document.getElementById(id);

function editorURL() {
  const url = new URL("/editor.html", location.href);
  if (location.hostname === "127.0.0.1") url.hostname = "localhost";
  else if (location.hostname === "localhost") url.hostname = "127.0.0.1";
  // Pass on the settings a shop would configure (ports, route); the token
  // goes in the fragment, which is never sent to a server.
  const params = new URLSearchParams(location.search);
  const pass = new URLSearchParams();
  for (const key of ["ports", "route"]) {
    if (params.has(key)) pass.set(key, params.get(key));
  }
  pass.set("shop", location.origin);
  url.search = pass.toString();
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) url.hash = "token=" + encodeURIComponent(token);
  return url;
}

// label is the badge's text for a status the editor posts.
function label(status) {
  switch (status) {
    case "connecting": return t("example.status.connecting", "Report editor: connecting to Orion Bridge…");
    case "open": return t("example.status.open", "Report editor: connected");
    case "reconnecting": return t("example.status.reconnecting", "Report editor: reconnecting…");
    case "closed": return t("example.status.closed", "Report editor: disconnected");
    case "waiting": return t("example.status.waiting", "Report editor: waiting for you to connect");
  }
  return t("example.status.other", "Report editor: {{.Status}}", { Status: status });
}

function init() {
  const url = editorURL();
  $("shop-origin").textContent = location.origin;
  $("editor-origin").textContent = url.origin;
  $("editor").src = url.href;

  // Only the editor's own origin may update the badge.
  window.addEventListener("message", (ev) => {
    if (ev.origin !== url.origin || !ev.data || ev.data.type !== "orion-editor-status") return;
    const status = String(ev.data.status || "");
    const badge = $("shop-bridge");
    badge.dataset.status = ev.data.reason ? "failed" : status;
    $("shop-bridge-text").textContent = ev.data.reason
      ? t("example.status.other", "Report editor: {{.Status}}", { Status: message(String(ev.data.reason), language()) })
      : label(status);
  });
}

loadLanguage().then(init);
