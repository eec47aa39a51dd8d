// Unit tests for i18n.js, the pages' language (issue 18).
// Run: node --test assets/web/_test/i18n.test.mjs (Node 18 or later)
// The pages in a real browser are tested in e2e/i18n_test.go.

import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// As in client.test.mjs: Node before 20.19 reads .js as CommonJS, so
// import .mjs copies, with i18n.js pointed at the copy of client.js.
const dir = mkdtempSync(join(tmpdir(), "orion-i18n-test-"));
copyFileSync(new URL("../client.js", import.meta.url), join(dir, "client.mjs"));
const src = readFileSync(new URL("../i18n.js", import.meta.url), "utf8").replace('from "./client.js"', 'from "./client.mjs"');
writeFileSync(join(dir, "i18n.mjs"), src);
const { LANGUAGES, language, loadLanguage, t } = await import(pathToFileURL(join(dir, "i18n.mjs")).href);
const ko = JSON.parse(readFileSync(new URL("../i18n/ko.json", import.meta.url), "utf8"));
rmSync(dir, { recursive: true, force: true });

test("English needs no catalogue: the fallbacks, filled in", async () => {
  globalThis.fetch = () => assert.fail("English fetched a catalogue");
  assert.equal(await loadLanguage(["en-GB", "ko"]), "en");
  assert.equal(t("page.checked_at", "Checked at {{.Time}}.", { Time: "12:00" }), "Checked at 12:00.");
  const routes = { one: "{{.Count}} route", other: "{{.Count}} routes" };
  assert.equal(t("page.summary.routes", routes, { Count: 1 }), "1 route");
  assert.equal(t("page.summary.routes", routes, { Count: 2 }), "2 routes");
  assert.equal(t("x", "{{.Missing}} stays", {}), "{{.Missing}} stays");
});

test("a language with no catalogue stays English", async () => {
  globalThis.fetch = () => assert.fail("fetched a catalogue for French");
  assert.equal(await loadLanguage(["fr-FR", "de"]), "en");
});

test("Korean: the catalogue from /i18n/ko.json, plural forms or not", async () => {
  const asked = [];
  globalThis.fetch = async (url) => {
    asked.push(String(url));
    return { ok: true, status: 200, json: async () => ko };
  };
  assert.equal(await loadLanguage(["ko-KR", "en"], "https://localhost:21443/i18n/"), "ko");
  assert.deepEqual(asked, ["https://localhost:21443/i18n/ko.json"]);
  assert.equal(language(), "ko");
  assert.equal(t("page.summary.routes", { one: "{{.Count}} route", other: "{{.Count}} routes" }, { Count: 1 }), "경로 1개");
  assert.equal(t("page.checked_at", "Checked at {{.Time}}.", { Time: "12:00" }), "12:00에 확인했습니다.");
  assert.equal(t("no.such.key", "fallback"), "fallback");
});

test("a catalogue that does not load leaves the page in English", async () => {
  globalThis.fetch = async () => ({ ok: false, status: 404, json: async () => ({}) });
  const warn = console.warn;
  console.warn = () => {};
  try {
    assert.equal(await loadLanguage(["ko"]), "en");
    assert.equal(t("page.checked_at", "Checked at {{.Time}}.", { Time: "12:00" }), "Checked at 12:00.");
  } finally {
    console.warn = warn;
  }
});

test("LANGUAGES starts with English, the fallback", () => {
  assert.equal(LANGUAGES[0], "en");
  assert.ok(LANGUAGES.includes("ko"));
});
