// The pages' language (issue 18): the diagnostics page and the example
// shop page follow the browser's languages (navigator.languages) with the
// catalogues the tray uses, assets/web/i18n/<tag>.json, which the bridge
// (and `orionbridge demo-site`) serve at /i18n/<tag>.json.
//
// Text goes in with textContent only, never as HTML: a catalogue is data.
// Static text is marked in the HTML: data-i18n="key" replaces an element's
// text, data-i18n-title and data-i18n-placeholder those attributes; what
// the HTML says is the English fallback. Scripts call t with a key, the
// English fallback and the data: {{.Name}} in a message is replaced by
// data.Name, as in the Go templates the tray uses. assets/i18n_test.go
// checks every key against every catalogue, so keys must be literals.

import { matchLanguage } from "./client.js";

/** The catalogues there are; assets/i18n_test.go checks this list. */
export const LANGUAGES = Object.freeze(["en", "ko"]);

let current = "en";
let messages = {};

/** The language the page shows, e.g. "ko". */
export function language() {
  return current;
}

/**
 * loadLanguage picks the first of preferred (by default the browser's
 * languages) that has a catalogue, loads it from base, and translates the
 * marked text of root. English needs no catalogue: the fallbacks are
 * English. It never throws: a catalogue that cannot be loaded leaves the
 * page in English.
 */
export async function loadLanguage(preferred, base, root) {
  const prefs = preferred || (typeof navigator === "undefined" ? [] : navigator.languages || [navigator.language]);
  const tag = matchLanguage(prefs, LANGUAGES);
  current = "en";
  messages = {};
  if (tag !== "en") {
    try {
      const res = await fetch(new URL(tag + ".json", base || new URL("/i18n/", location.href)), { credentials: "omit" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      messages = await res.json();
      current = tag;
    } catch (err) {
      console.warn("Orion Bridge: no " + tag + " catalogue (" + err + "); the page stays in English");
    }
  }
  if (typeof document !== "undefined") {
    document.documentElement.lang = current;
    translate(root || document);
  }
  return current;
}

/**
 * t is the message for key, with {{.Name}} filled from data. A message with
 * plural forms ({one, other}) picks by data.Count. Without a catalogue
 * entry it is fallback, which may also be {one, other}.
 */
export function t(key, fallback, data) {
  let msg = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : fallback;
  if (msg && typeof msg === "object") {
    const form = data && typeof data.Count === "number" ? new Intl.PluralRules(current).select(data.Count) : "other";
    msg = msg[form] || msg.other;
  }
  return String(msg === undefined || msg === null ? key : msg).replace(/\{\{\s*\.(\w+)\s*\}\}/g,
    (whole, name) => (data && data[name] !== undefined ? String(data[name]) : whole));
}

/** translate sets the text of root's marked elements in the page's language. */
export function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n, node.textContent.trim());
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) {
    node.title = t(node.dataset.i18nTitle, node.title);
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder, node.placeholder);
  }
}
