// lineage-node as a process: it must outlive the reader of its stderr (issue 8 row 18: with
// stderr a pipe whose reader died, the next log line took the node down with exit status 101).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.LINEAGE_NODE_BIN;

test("the node keeps serving after the reader of its stderr goes away", { skip: !BIN && "LINEAGE_NODE_BIN is not set", timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "lineage-stderr-"));
  const child = spawn(BIN, ["--data-dir", dir, "--ws-port", "0", "--tcp-port", "0", "--webrtc-port", "0", "--http-port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let exit = null;
  child.once("exit", (code, signal) => (exit = { code, signal }));
  try {
    let out = "";
    const http = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "ready" within 30 s: ${out}`)), 30_000);
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d) => {
        out += d;
        if (/^ready$/m.test(out)) {
          clearTimeout(timer);
          resolve(out.match(/^http: (\S+)$/m)[1]);
        }
      });
    });
    child.stderr.destroy(); // the reader dies; the node's next write to stderr fails (EPIPE)
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${http}/api/v0/json-rpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: i, method: "get_node_clock" }),
      });
      assert.equal(r.status, 200);
      // Give the node a reason to log: a failed request and a connection.
      await fetch(`${http}/ipfs/not-a-cid`).catch(() => {});
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(exit, null, `the node exited: ${JSON.stringify(exit)}`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((res) => (exit ? res() : child.once("exit", res)));
    await rm(dir, { recursive: true, force: true });
  }
});
