// Runs our wasm build (benches/web/pkg) in headless Chromium and in Node, printing one JSON line
// per case. Usage: node benches/web/run.mjs  (benches/run.sh builds pkg/ first)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { runCases } from "./cases.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const fixtures = join(here, "../../tests/fixtures");
const TYPES = { ".html": "text/html", ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm" };

// Static server on loopback: /fixtures/* from tests/fixtures, everything else from benches/web.
const server = createServer(async (req, res) => {
  try {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = path.startsWith("/fixtures/") ? join(fixtures, path.slice(10)) : join(here, path);
    if (!file.startsWith(here) && !file.startsWith(fixtures)) throw new Error("outside");
    const body = await readFile(file);
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/bench.html`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__results || window.__error, null, { timeout: 600_000 });
  const err = await page.evaluate(() => window.__error);
  if (err) throw new Error(`benchmark page failed: ${err}`);
  for (const r of await page.evaluate(() => window.__results)) console.log(JSON.stringify(r));
} finally {
  await browser.close();
  server.close();
}

// The same wasm in Node's V8 (where the marine-js anchor runs too).
const { default: init, MarineService } = await import("./pkg/lineage_web.js");
const wasm = await init({ module_or_path: await readFile(join(here, "pkg/lineage_web_bg.wasm")) });
const load = async (name) => new Uint8Array(await readFile(join(fixtures, `${name}.wasm`)));
for (const r of await runCases(MarineService, load, "wasmi-wasm-node", () => wasm.memory.buffer.byteLength)) {
  console.log(JSON.stringify(r));
}
