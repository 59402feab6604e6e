// The dashboard end to end: a fresh in-memory rustvecdb with an API key, Debian's chromium
// driven by playwright-core. Run through tests/browser/run.sh (which sets RVDB_BIN, CHROMIUM and
// ARTIFACTS). Exit code 0 only when every check passed; screenshots go to ARTIFACTS.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import { chromium } from "playwright-core";

const BIN = process.env.RVDB_BIN;
const CHROMIUM = process.env.CHROMIUM;
const ARTIFACTS = process.env.ARTIFACTS || "target/browser-artifacts";
const API_KEY = "browser-test-key";
const COLLECTION = "e2e_docs";
const TIMEOUT_MS = 10_000;

if (!BIN || !CHROMIUM) {
  console.error("set RVDB_BIN and CHROMIUM (tests/browser/run.sh does)");
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

// ---- the server ------------------------------------------------------------------------------

function startServer() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith("RVDB__") || ["RVDB_CONFIG", "RVDB_MAX_BODY_BYTES", "RVDB_API_KEY", "STORAGE_PATH"].includes(k)) {
      delete env[k];
    }
  }
  Object.assign(env, { HOST: "127.0.0.1", PORT: "0", RUST_LOG: "warn", RVDB__SERVICE__API_KEY: API_KEY });
  const child = spawn(BIN, [], { env, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("rustvecdb did not say where it listens within 20 s")), 20_000);
    child.on("exit", (code) => reject(new Error(`rustvecdb exited early (code ${code})`)));
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = /^rustvecdb listening on (\S+)$/.exec(line.trim());
      if (!m) reject(new Error(`unexpected first line: ${line}`));
      else resolve({ child, base: m[1] });
    });
  });
}

async function http(base, method, p, body) {
  const resp = await fetch(base + p, {
    method,
    headers: { "content-type": "application/json", "api-key": API_KEY },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: resp.status, json: await resp.json().catch(() => null) };
}

// ---- checks ----------------------------------------------------------------------------------

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`  ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`  FAIL ${name}\n       ${String(e && e.message ? e.message : e).split("\n").join("\n       ")}`);
    throw e;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const POINTS = [
  { id: 1, vector: [1, 0, 0, 0], payload: { city: "Berlin", rank: 1 } },
  { id: 2, vector: [0.9, 0.1, 0, 0], payload: { city: "Paris", rank: 2 } },
  { id: 3, vector: [0.8, 0.2, 0, 0], payload: { city: "Berlin", rank: 3 } },
  { id: 4, vector: [0, 1, 0, 0], payload: { city: "Rome", rank: 4 } },
  { id: 5, vector: [0, 0, 1, 0], payload: { city: "Berlin", rank: 5 } },
  { id: 6, vector: [0, 0, 0, 1], payload: { city: "Oslo", rank: 6 } },
  { id: 7, vector: [0.5, 0.5, 0, 0], payload: { city: "Berlin", rank: 7 } },
];
const BERLIN = JSON.stringify({ must: [{ key: "city", match: { value: "Berlin" } }] });

async function main() {
  const { child, base } = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  const external = [];
  const pageErrors = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base)) return route.continue();
    external.push(url);
    return route.abort();
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("dialog", (d) => d.accept());

  const rowOf = (name) => page.locator(`#collections tbody tr[data-collection="${name}"]`);
  const ids = (table) =>
    page.locator(`${table} tbody tr`).evaluateAll((rows) => rows.map((r) => r.dataset.id));
  const errorText = () => page.locator("#error").textContent();

  try {
    await check("the page loads without a key, and the API's refusal is shown", async () => {
      await page.goto(`${base}/dashboard`);
      await page.locator("#error").waitFor({ state: "visible" });
      const msg = await errorText();
      assert(/401/.test(msg) && /API key/.test(msg), `error box says: ${msg}`);
    });

    await check("a key entered in the page is saved in localStorage and used", async () => {
      await page.fill("#api-key", API_KEY);
      await page.click("#save-key");
      await page.locator("#error").waitFor({ state: "hidden" });
      await page.locator("#no-collections").waitFor({ state: "visible" });
      const stored = await page.evaluate(() => localStorage.getItem("rustvecdb.apiKey"));
      assert(stored === API_KEY, `localStorage holds ${stored}`);
    });

    await check("a collection created through the form is listed", async () => {
      await page.fill("#new-name", COLLECTION);
      await page.fill("#new-size", "4");
      await page.selectOption("#new-distance", "Cosine");
      await page.click("#create");
      await rowOf(COLLECTION).waitFor();
      const info = await http(base, "GET", `/collections/${COLLECTION}`);
      assert(info.status === 200, `GET the new collection: ${info.status}`);
      const v = info.json.result.config.params.vectors;
      assert(v.size === 4 && v.distance === "Cosine", `its vectors: ${JSON.stringify(v)}`);
    });

    await check("points upserted over HTTP show in the list with their count and sizes", async () => {
      const r = await http(base, "PUT", `/collections/${COLLECTION}/points?wait=true`, { points: POINTS });
      assert(r.status === 200, `upsert answered ${r.status}: ${JSON.stringify(r.json)}`);
      await page.click("#refresh");
      const row = rowOf(COLLECTION);
      await page.waitForFunction(
        (sel) => document.querySelector(sel)?.textContent.trim() === "7",
        `#collections tbody tr[data-collection="${COLLECTION}"] td.points`,
      );
      const status = (await row.locator("td.status").textContent()).trim();
      const segments = (await row.locator("td.segments").textContent()).trim();
      const vectors = (await row.locator("td.vectors").textContent()).trim();
      assert(["green", "yellow"].includes(status), `status ${status}`);
      assert(Number(segments) >= 1, `segments ${segments}`);
      assert(vectors.includes("4") && vectors.includes("Cosine"), `vectors ${vectors}`);
    });

    await check("browsing pages through the points with their payloads", async () => {
      await rowOf(COLLECTION).locator("button.open").click();
      await page.locator("#detail").waitFor({ state: "visible" });
      await page.selectOption("#page-size", "5");
      await page.waitForFunction(() => document.querySelectorAll("#points tbody tr").length === 5);
      assert(JSON.stringify(await ids("#points")) === JSON.stringify(["1", "2", "3", "4", "5"]), `page 1: ${await ids("#points")}`);
      const payload = await page.locator('#points tbody tr[data-id="2"] td.payload').textContent();
      assert(payload.includes("Paris") && payload.includes("rank"), `payload of 2: ${payload}`);
      await page.click("#next-page");
      await page.waitForFunction(() => document.querySelectorAll("#points tbody tr").length === 2);
      assert(JSON.stringify(await ids("#points")) === JSON.stringify(["6", "7"]), `page 2: ${await ids("#points")}`);
      assert(await page.locator("#next-page").isDisabled(), "next page enabled on the last page");
      await page.click("#first-page");
      await page.waitForFunction(() => document.querySelectorAll("#points tbody tr").length === 5);
    });

    await check("a search by vector with a filter shows the hits with scores", async () => {
      await page.click('.tab[data-tab="search"]');
      await page.selectOption("#search-mode", "vector");
      await page.fill("#search-query", "[1, 0, 0, 0]");
      await page.fill("#search-filter", BERLIN);
      await page.fill("#search-limit", "3");
      await page.click("#search");
      await page.waitForFunction(() => document.querySelectorAll("#hits tbody tr").length === 3);
      const got = await ids("#hits");
      assert(JSON.stringify(got) === JSON.stringify(["1", "3", "7"]), `hits ${got}`);
      const top = (await page.locator('#hits tbody tr[data-id="1"] td.score').textContent()).trim();
      assert(top === "1.0000", `score of 1: ${top}`);
      const payload = await page.locator('#hits tbody tr[data-id="3"] td.payload').textContent();
      assert(payload.includes("Berlin"), `payload of hit 3: ${payload}`);
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
    });

    await check("a search by point id with a filter shows the hits", async () => {
      await page.selectOption("#search-mode", "id");
      await page.fill("#search-query", "2");
      await page.fill("#search-filter", BERLIN);
      await page.fill("#search-limit", "10");
      await page.click("#search");
      await page.waitForFunction(() => document.querySelectorAll("#hits tbody tr").length === 4);
      const got = await ids("#hits");
      assert(JSON.stringify([...got].sort()) === JSON.stringify(["1", "3", "5", "7"]), `hits ${got}`);
      assert(got[0] === "1" || got[0] === "3", `best hit ${got[0]}`);
      const scores = await page.locator("#hits tbody td.score").allTextContents();
      const nums = scores.map(Number);
      assert(nums.every((s, i) => i === 0 || nums[i - 1] >= s), `scores not best first: ${scores}`);
    });

    await check("the server's error message is shown for a bad filter", async () => {
      await page.selectOption("#search-mode", "vector");
      await page.fill("#search-query", "[1, 0, 0, 0]");
      await page.fill("#search-filter", '{"must": [{"key": "city", "bogus": 1}]}');
      await page.click("#search");
      await page.locator("#error").waitFor({ state: "visible" });
      const msg = await errorText();
      assert(/400/.test(msg) && msg.includes("bogus"), `error box says: ${msg}`);
      await page.fill("#search-filter", "");
    });

    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-error.png"), fullPage: true });

    await check("a collection deleted through the page (confirmed) is gone", async () => {
      await rowOf(COLLECTION).locator("button.delete").click();
      await rowOf(COLLECTION).waitFor({ state: "detached" });
      await page.locator("#detail").waitFor({ state: "hidden" });
      const r = await http(base, "GET", `/collections/${COLLECTION}`);
      assert(r.status === 404, `GET after delete: ${r.status}`);
    });

    await check("the page fetched nothing off this server and raised no script error", async () => {
      assert(external.length === 0, `external requests: ${external}`);
      assert(pageErrors.length === 0, `script errors: ${pageErrors}`);
    });
  } catch (e) {
    await page.screenshot({ path: path.join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
    console.log(`  screenshot of the failure: ${path.join(ARTIFACTS, "failure.png")}`);
  } finally {
    await browser.close().catch(() => {});
    child.kill("SIGTERM");
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`  FAIL setup: ${e.message}`);
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
