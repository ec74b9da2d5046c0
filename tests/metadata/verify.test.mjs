// verifyHistory of our package (pkg/dist, the shipped bundle) in Node on a history a real
// lineage-node wrote, fetched as a CAR from its gateway: checked in the Marine-runtime wasm —
// CIDs, hashes, signatures, links, a deterministic rerun of the meta contract — and every
// tampering a node could try caught, naming the first bad version (tamper.mjs; the same cases
// run in Chromium in tests/browser/verify.test.mjs).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer } from "node:http";
import { join } from "node:path";

import { exitIfStuck, teardown } from "../interop/harness.mjs";
import { startNode } from "./support.mjs";
import { historyAndTamperings, tamperingGateway } from "./tamper.mjs";

const { verifyHistory, verifyMetadata } = await import(join(import.meta.dirname, "..", "..", "pkg", "dist", "index.js"));

after(async () => {
  await teardown();
  exitIfStuck();
});

const T = { timeout: 120_000 };
let h;
let url;

before(async () => {
  const node = await startNode();
  url = node.httpUrl;
  h = await historyAndTamperings(url);
});

describe("verifyHistory (our package, Node) on a node's history", T, () => {
  it("verifies every version and replays its meta contract", async () => {
    const report = await verifyHistory(h.head, h.blocks);
    assert.equal(report.head, h.head);
    assert.deepEqual(report.versions.map((v) => v.content.name), h.names);
    assert.ok(report.versions.every((v) => v.replayed));
    assert.equal(report.versions.at(-1).transaction.prev, "");
    assert.equal(report.versions[0].transaction.prev, report.versions[1].cid);
  });

  it("catches each tampering at the first bad version", async () => {
    for (const c of h.cases.filter((c) => !c.lookupOnly)) {
      await assert.rejects(verifyHistory(c.head, c.blocks), (e) => {
        assert.equal(e.code, c.code, `${c.name}: ${e.code}: ${e.message}`);
        assert.equal(e.index, c.index, `${c.name}: ${e.message}`);
        return true;
      }, c.name);
    }
  });

  it("without the replay, forged content would pass: the replay is what catches it", async () => {
    const forged = h.cases.find((c) => c.code === "REPLAY_FAILED" && c.index === 0 && c.head !== h.head);
    const report = await verifyHistory(forged.head, forged.blocks, { replay: false });
    assert.equal(report.versions[0].content.name, "forged");
    assert.equal(report.versions[0].replayed, false);
  });

  it("bad arguments are typed errors", async () => {
    await assert.rejects(verifyHistory("not-a-cid", h.blocks), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(verifyHistory(h.head, { [h.head]: "bytes" }), (e) => e.code === "BAD_ARGUMENT");
    // Not a bad argument: a history longer than allowed.
    await assert.rejects(verifyHistory(h.head, h.blocks, { maxVersions: 2 }), (e) => e.code === "HISTORY_INVALID" && /longer than 2 versions/.test(e.message));
  });
});

describe("verifyMetadata (our package, Node): look up, fetch and verify from a node's gateway", T, () => {
  it("fetches the history as a CAR and the module, verifies and replays, with progress", async () => {
    const events = [];
    const r = await verifyMetadata({ gateway: url, ...h.record, onProgress: (p) => events.push(p) });
    assert.equal(r.cid, h.head);
    assert.deepEqual(r.content, { name: h.names[0] });
    assert.deepEqual(r.versions.map((v) => v.content.name), h.names);
    assert.deepEqual([...new Set(events.map((p) => p.stage))], ["lookup", "fetch-history", "fetch-modules", "verify", "done"]);
    const phases = events.filter((p) => p.phase).map(({ phase, done, total }) => [phase, done, total]);
    assert.deepEqual(phases, [["check", 3, 3], ["replay", 3, 3]]);
  });

  it("a long history reports progress every 100 versions in each phase", async () => {
    // The demo's sample collection (what npm start seeds): token 5 has 120 versions.
    const { SAMPLE, seed } = await import("../../scripts/demo-seed.mjs");
    const { publicKey } = await seed(url);
    const events = [];
    const r = await verifyMetadata({ gateway: url, chainId: SAMPLE.chainId, tokenAddress: SAMPLE.tokenAddress, tokenId: SAMPLE.longHistoryToken, metaContractId: SAMPLE.metaContractId, publicKey, version: SAMPLE.version, onProgress: (p) => events.push(p) });
    assert.equal(r.versions.length, SAMPLE.longHistoryVersions);
    const phases = events.filter((p) => p.phase).map(({ phase, done, total }) => [phase, done, total]);
    assert.deepEqual(phases, [["check", 100, undefined], ["check", 120, 120], ["replay", 100, 120], ["replay", 120, 120]]);
    // The CAR's download is reported every 64 KiB and at its end, against its declared length.
    const car = new Uint8Array(await (await fetch(`${url}/ipfs/${r.cid}?format=car`)).arrayBuffer());
    assert.ok(car.byteLength > 128 * 1024, `the 120-version CAR holds ${car.byteLength} bytes`);
    const downloads = events.filter((p) => p.stage === "fetch-history" && p.bytes !== undefined);
    assert.ok(downloads.length >= 2, JSON.stringify(downloads));
    assert.ok(downloads.every((p, i) => i === 0 || p.bytes > downloads[i - 1].bytes), "bytes only grow");
    assert.ok(downloads.slice(0, -1).every((p, i) => i === 0 || p.bytes - downloads[i - 1].bytes >= 64 * 1024), JSON.stringify(downloads));
    assert.equal(downloads.at(-1).bytes, car.byteLength);
    assert.ok(downloads.every((p) => p.totalBytes === car.byteLength && p.head === r.cid), JSON.stringify(downloads[0]));
    // verifyHistory takes the same callback; one that throws does not stop it.
    let calls = 0;
    const report = await verifyHistory(h.head, h.blocks, {
      onProgress: () => {
        calls++;
        throw new Error("ignored");
      },
    });
    assert.equal(calls, 2, "check and replay each reported once on 3 versions");
    assert.equal(report.versions.length, 3);
  });

  it("a dishonest gateway is caught at the version, including naming another record's head", async () => {
    const dishonest = await tamperingGateway(url);
    try {
      for (const c of h.cases) {
        dishonest.serve(c);
        await assert.rejects(verifyMetadata({ gateway: dishonest.url, ...h.record }), (e) => {
          assert.equal(e.code, c.code, `${c.name}: ${e.code}: ${e.message}`);
          assert.equal(e.index, c.index, `${c.name}: ${e.message}`);
          return true;
        }, c.name);
      }
    } finally {
      await dishonest.close();
    }
  });

  it("a gateway that sends too much, stalls or fails is cut off: FETCH_FAILED with a reason", async () => {
    // A gateway that names the real head, then streams an endless CAR (no length), declares a
    // huge one, floods its JSON-RPC reply or its error page, goes silent, or dribbles the real CAR.
    let mode;
    const closed = [];
    const server = createServer(async (req, res) => {
      const asked = mode; // as it was when this request came
      let body = "";
      for await (const chunk of req) body += chunk;
      const endless = () => {
        const chunk = Buffer.alloc(64 * 1024, 7);
        const more = () => {
          while (res.write(chunk));
        };
        res.on("drain", more);
        res.on("close", () => closed.push(`${asked} ${req.url}`));
        more();
      };
      if (req.url === "/api/v0/json-rpc") {
        if (asked === "rpc-stall") return; // never answers
        if (asked === "rpc-flood") {
          res.writeHead(200, { "content-type": "application/json" });
          res.write('{"jsonrpc":"2.0","id":1,"result":"');
          return endless();
        }
        const reply = await fetch(`${url}/api/v0/json-rpc`, { method: "POST", headers: { "content-type": "application/json" }, body });
        return res.writeHead(200, { "content-type": "application/json" }).end(await reply.text());
      }
      const real = await fetch(`${url}${req.url}`);
      if (asked === "slow" || !req.url.includes("format=car")) {
        // The real bytes; the CAR 256 bytes every 80 ms: slower in all than the timeout, never
        // silent for as long.
        const bytes = Buffer.from(await real.arrayBuffer());
        res.writeHead(real.status, { "content-type": real.headers.get("content-type") ?? "application/octet-stream" });
        if (!req.url.includes("format=car")) return res.end(bytes);
        for (let at = 0; at < bytes.length; at += 256) {
          res.write(bytes.subarray(at, at + 256));
          await new Promise((ok) => setTimeout(ok, 80));
        }
        return res.end();
      }
      await real.arrayBuffer();
      if (asked === "declared") return res.writeHead(200, { "content-length": String(2 ** 40) }).end();
      if (asked === "stall") return res.writeHead(200, { "content-type": "application/vnd.ipld.car; version=1" }).write(Buffer.alloc(100));
      res.writeHead(asked === "error-flood" ? 500 : 200, { "content-type": "application/vnd.ipld.car; version=1" });
      endless();
    });
    await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
    const gateway = `http://127.0.0.1:${server.address().port}`;
    const failed = (what, reason) => (e) => {
      assert.equal(e.code, "FETCH_FAILED", `${what}: ${e.code}: ${e.message}`);
      assert.equal(e.reason, reason, `${what}: ${e.message}`);
      return true;
    };
    try {
      for (mode of ["endless", "declared", "rpc-flood"]) {
        const events = [];
        await assert.rejects(verifyMetadata({ gateway, ...h.record, maxBytes: 1 << 20, onProgress: (p) => events.push(p) }), failed(mode, "TOO_LARGE"));
        if (mode === "endless") {
          const seen = events.filter((p) => p.bytes !== undefined).map((p) => p.bytes);
          assert.ok(seen.length >= 5 && seen.at(-1) <= 1 << 20, `progress up to the cap: ${seen}`);
        }
      }
      // An error page is an error with its status; only its start is read.
      mode = "error-flood";
      await assert.rejects(verifyMetadata({ gateway, ...h.record }), (e) => {
        assert.equal(e.code, "FETCH_FAILED", e.message);
        assert.equal(e.status, 500, e.message);
        assert.ok(e.message.length < 5000, `the message holds ${e.message.length} characters`);
        return true;
      });
      // Silence is a timeout, before a reply or inside one…
      for (mode of ["stall", "rpc-stall"]) {
        const t0 = performance.now();
        await assert.rejects(verifyMetadata({ gateway, ...h.record, timeoutMs: 400 }), failed(mode, "TIMEOUT"));
        assert.ok(performance.now() - t0 < 10_000, `${mode}: took ${performance.now() - t0} ms`);
      }
      // …a slow reply that keeps coming is not.
      mode = "slow";
      const t0 = performance.now();
      const slow = await verifyMetadata({ gateway, ...h.record, timeoutMs: 400 });
      assert.equal(slow.cid, h.head);
      assert.ok(performance.now() - t0 > 400, `the dribbled CAR took only ${performance.now() - t0} ms: the test proves nothing`);
      // The endless replies were cancelled, not read on in the background.
      const endlessOnes = ["endless", "rpc-flood", "error-flood"];
      for (let i = 0; i < 50 && closed.length < endlessOnes.length; i++) await new Promise((ok) => setTimeout(ok, 100));
      assert.deepEqual(closed.map((c) => c.split(" ")[0]), endlessOnes, `connections the client closed: ${closed}`);
      await assert.rejects(verifyMetadata({ gateway: url, ...h.record, maxBytes: 0 }), (e) => e.code === "BAD_ARGUMENT");
      await assert.rejects(verifyMetadata({ gateway: url, ...h.record, timeoutMs: 0 }), (e) => e.code === "BAD_ARGUMENT");
      // Under the cap, the same record verifies.
      const r = await verifyMetadata({ gateway: url, ...h.record, maxBytes: 1 << 20 });
      assert.equal(r.cid, h.head);
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });

  it("an AbortSignal stops it wherever it is: before starting, in the replay, in a stalled download", async () => {
    const aborted = (what) => (e) => {
      assert.equal(e.code, "ABORTED", `${what}: ${e.code}: ${e.message}`);
      assert.equal(e.cause?.message, "changed my mind", what);
      return true;
    };
    const already = AbortSignal.abort(new Error("changed my mind"));
    // Aborted before it starts: nothing is asked (this gateway would be FETCH_FAILED).
    await assert.rejects(verifyMetadata({ gateway: "http://127.0.0.1:9", ...h.record, signal: already }), aborted("before"));
    await assert.rejects(verifyHistory(h.head, h.blocks, { signal: already }), aborted("verifyHistory"));
    await assert.rejects(verifyHistory(h.head, h.blocks, { signal: "stop" }), (e) => e.code === "BAD_ARGUMENT");

    // Midway through the 120-version history's replay: it stops there, and reports nothing after.
    const { SAMPLE, seed } = await import("../../scripts/demo-seed.mjs");
    const { publicKey } = await seed(url);
    const long = { gateway: url, chainId: SAMPLE.chainId, tokenAddress: SAMPLE.tokenAddress, tokenId: SAMPLE.longHistoryToken, metaContractId: SAMPLE.metaContractId, publicKey, version: SAMPLE.version };
    const ac = new AbortController();
    const events = [];
    let afterAbort = 0;
    await assert.rejects(
      verifyMetadata({
        ...long,
        signal: ac.signal,
        onProgress: (p) => {
          if (ac.signal.aborted) afterAbort++;
          events.push(p);
          if (p.phase === "replay" && p.done === 100) ac.abort(new Error("changed my mind"));
        },
      }),
      aborted("replay"),
    );
    assert.equal(afterAbort, 0, `progress after the abort: ${JSON.stringify(events.at(-1))}`);
    assert.ok(!events.some((p) => p.stage === "done"));

    // A download the gateway stalls: the abort ends it at once, not at the timeout.
    const server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      if (req.url === "/api/v0/json-rpc") {
        const reply = await fetch(`${url}/api/v0/json-rpc`, { method: "POST", headers: { "content-type": "application/json" }, body });
        return res.writeHead(200, { "content-type": "application/json" }).end(await reply.text());
      }
      res.writeHead(200).write(Buffer.alloc(10)); // and nothing more
    });
    await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      const stalled = new AbortController();
      const t0 = performance.now();
      const pending = verifyMetadata({
        gateway: `http://127.0.0.1:${server.address().port}`,
        ...h.record,
        signal: stalled.signal,
        onProgress: (p) => p.stage === "fetch-history" && setTimeout(() => stalled.abort(new Error("changed my mind")), 200),
      });
      await assert.rejects(pending, aborted("stalled download"));
      assert.ok(performance.now() - t0 < 10_000, `took ${performance.now() - t0} ms`);
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
    // The same record verifies with a signal that is never aborted.
    assert.equal((await verifyMetadata({ ...long, signal: new AbortController().signal })).versions.length, SAMPLE.longHistoryVersions);
  });

  it("an unknown record is NOT_FOUND, an unreachable gateway FETCH_FAILED, bad fields BAD_ARGUMENT", async () => {
    await assert.rejects(verifyMetadata({ gateway: url, ...h.record, tokenId: "no-such-token" }), (e) => e.code === "NOT_FOUND");
    await assert.rejects(verifyMetadata({ gateway: "http://127.0.0.1:9", ...h.record }), (e) => e.code === "FETCH_FAILED");
    await assert.rejects(verifyMetadata({ gateway: url, ...h.record, version: 1 }), (e) => e.code === "BAD_ARGUMENT");
  });
});
