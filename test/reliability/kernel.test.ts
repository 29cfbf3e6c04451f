/**
 * The kernel under abuse, over real ZeroMQ (test/kernel/zmq-client.ts):
 * late errors, attempts to exit, interrupts of every kind of loop, a
 * heartbeat during a long synchronous cell, an output flood and forged
 * messages. After each, the kernel must be alive with its variables.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Message } from "../../kernel/wire";
import { KERNEL_NODE_FLAGS } from "../../kernel/node-flags";
import { KernelClient } from "../kernel/zmq-client";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kinds = (msgs: Message[]) => msgs.map((m) => m.header.msg_type);
const streamText = (msgs: Message[], name = "stderr") =>
  msgs.filter((m) => m.header.msg_type === "stream" && m.content.name === name).map((m) => String(m.content.text)).join("");

describe("reliability: the kernel over ZeroMQ never dies, never hangs", function () {
  this.timeout(120000);
  let tmp: string;
  let k: KernelClient;

  async function value(code: string): Promise<string> {
    const { reply, iopub } = await k.execute(code, 60000);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    const result = iopub.find((m) => m.header.msg_type === "execute_result");
    return (result?.content.data as Record<string, string> | undefined)?.["text/plain"] ?? "";
  }

  const started = (id: string) => k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "execute_input", 60000);

  /** Sends interrupt_request while `id` runs; returns the cell's reply and the milliseconds it took. */
  async function interruptCell(id: string, afterMs = 500): Promise<{ reply: Message; ms: number }> {
    await started(id);
    await sleep(afterMs);
    const t0 = Date.now();
    await k.send("control", "interrupt_request", {});
    const { reply } = await k.finish("shell", id, 30000);
    return { reply, ms: Date.now() - t0 };
  }

  async function stillAlive(): Promise<void> {
    assert.equal(k.proc.exitCode, null, `the kernel exited; its log:\n${k.stderr}`);
    assert.equal(await value("keep"), "41", "variables survive");
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-rel-"));
    k = await KernelClient.start(tmp, 60000);
    await value("let keep = 41;");
  });

  after(async () => {
    if (k) {
      assert.deepEqual(k.badMessages, [], "every message from the kernel is signed and well formed");
      await k.close();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("late errors are reported, not fatal", () => {
    const cases: [string, string, RegExp][] = [
      ["a throw in setTimeout", 'setTimeout(() => { throw new Error("late throw") }, 50);', /Uncaught exception \(from cell \[\d+\], which had already finished\): Error: late throw/],
      ["an un-awaited rejected promise", 'Promise.reject(new Error("nobody awaited me"));', /Unhandled promise rejection.*: Error: nobody awaited me/],
      ["a rejection after the cell returned", '(async () => { await new Promise((r) => setTimeout(r, 50)); throw new Error("rejected later"); })();', /Unhandled promise rejection \(from cell \[\d+\].*\): Error: rejected later/],
      ["an EventEmitter error with no listener", 'import { EventEmitter } from "events";\nconst em = new EventEmitter();\nsetTimeout(() => em.emit("error", new Error("emitter broke")), 50);', /Uncaught exception.*: Error: emitter broke/],
    ];
    for (const [what, code, expected] of cases) {
      it(`${what}: the cell that scheduled it shows it on stderr, and the kernel lives`, async () => {
        const id = await k.startExecute(code);
        const { reply } = await k.finish("shell", id, 30000);
        assert.equal(reply.content.status, "ok");
        const late = await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && expected.test(String(m.content.text)), 5000);
        assert.match(String(late.content.text), /The kernel keeps running; variables are unchanged\./);
        await stillAlive();
      });
    }

    it("a late error during another cell goes to the running cell's output", async () => {
      const id = await k.startExecute('setTimeout(() => { throw new Error("while busy") }, 100);\nawait new Promise((r) => setTimeout(r, 600));\n"done"');
      const { reply, iopub } = await k.finish("shell", id, 30000);
      assert.equal(reply.content.status, "ok");
      assert.match(streamText(iopub), /Uncaught exception: Error: while busy/);
      await stillAlive();
    });

    it("switching backends (which reloads tfjs-backend-wasm's glue and its rethrowing handlers) keeps the kernel safe", async () => {
      await value("%backend cpu");
      await value("%backend wasm");
      const id = await k.startExecute('setTimeout(() => { throw new Error("after backend switch") }, 50);');
      await k.finish("shell", id, 30000);
      await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && /after backend switch/.test(String(m.content.text ?? "")), 5000);
      await stillAlive();
    });

    it("rethrowing late-error listeners (as tfjs-backend-wasm's glue adds at load) are taken off", async () => {
      // The wasm backend was loaded at start: its listeners must already be gone.
      assert.equal(await value('process.listeners("uncaughtException").length * 10 + process.listeners("unhandledRejection").length'), "11");
      const id = await k.startExecute('process.on("uncaughtException", (e) => { throw e; });\nprocess.on("unhandledRejection", (e) => { throw e; });\nsetTimeout(() => { throw new Error("rethrown by a foreign listener?") }, 50);');
      await k.finish("shell", id, 30000);
      await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && /rethrown by a foreign listener/.test(String(m.content.text ?? "")), 5000);
      await stillAlive();
    });

    it("a plugin whose magic rejects later is reported too", async () => {
      const plugin = path.join(tmp, "late-plugin.js");
      fs.writeFileSync(
        plugin,
        'module.exports = { magics: [{ name: "later", summary: "fails later", positional: [], flags: {}, run() { setTimeout(() => Promise.reject(new Error("plugin failed later")), 20); return 1; } }] };\n',
      );
      await value(`%load_plugin ${JSON.stringify(plugin)}`);
      const id = await k.startExecute("%later");
      await k.finish("shell", id, 30000);
      await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && /plugin failed later/.test(String(m.content.text ?? "")), 5000);
      await stillAlive();
    });
  });

  describe("ending the process from a cell is refused", () => {
    for (const code of ["process.exit()", "process.exit(3)", "process.abort()", "process.kill(process.pid)", 'process.kill(process.pid, "SIGKILL")']) {
      it(`${code} raises an error that says to restart the kernel`, async () => {
        const { reply } = await k.execute(code);
        assert.equal(reply.content.status, "error");
        assert.match(String(reply.content.evalue), /would end the kernel and lose every variable; to start afresh, restart the kernel/);
        await stillAlive();
      });
    }
  });

  describe("interrupts stop the work, and the cell ends with KeyboardInterrupt", () => {
    it("an awaited microtask loop (for (;;) await Promise.resolve())", async () => {
      // Interrupted only once the loop runs: under load, type-checking alone can outlast a fixed wait, and an
      // interrupt then stops the cell before its first line. The pause lets the output flush reach us first.
      const id = await k.startExecute('let spins = 0;\nconsole.log("looping");\nawait new Promise((r) => setTimeout(r, 300));\nfor (;;) { await Promise.resolve(); spins++; }');
      await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && String(m.content.text).includes("looping"), 60000);
      const { reply, ms } = await interruptCell(id, 800);
      assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
      assert.ok(ms < 10000, `took ${ms} ms`);
      const spins = Number(await value("spins"));
      assert.ok(spins > 0);
      await sleep(500);
      assert.equal(Number(await value("spins")), spins, "the loop does not go on");
      await stillAlive();
    });

    it("a synchronous loop, by interrupt_request alone", async () => {
      const id = await k.startExecute("while (true) {}");
      const { reply, ms } = await interruptCell(id);
      assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
      assert.ok(ms < 10000, `took ${ms} ms`);
      await stillAlive();
    });

    it("a synchronous loop interrupted as it starts (type-checking) or later: stopped at once, and the next cell is not hit", async () => {
      // The watchdog's message may be read only after the loop was broken
      // into and the next request began; it must not interrupt that one.
      for (const wait of [0, 0, 10, 300, 300, 300]) {
        const id = await k.startExecute("while (true) {}");
        await started(id);
        await sleep(wait);
        const t0 = Date.now();
        await k.send("control", "interrupt_request", {});
        const { reply } = await k.finish("shell", id, 30000);
        assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
        assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms: stopped only by the watchdog's escalation`);
        await stillAlive();
      }
    });

    it("timers and intervals the cell created are cleared", async () => {
      const id = await k.startExecute("let ticks = 0;\nsetInterval(() => ticks++, 10);\nsetTimeout(() => (ticks = -1000), 2000);\nawait new Promise(() => undefined);");
      const { reply } = await interruptCell(id);
      assert.equal(reply.content.ename, "KeyboardInterrupt");
      const ticks = await value("ticks");
      await sleep(3000);
      assert.equal(await value("ticks"), ticks, "no timer of the interrupted cell ran afterwards");
      await stillAlive();
    });

    it("model.fit is stopped: the weights do not change after the interrupt's reply", async () => {
      await value(
        'import * as tf from "@tensorflow/tfjs";\nconst fm = tf.sequential({ layers: [tf.layers.dense({ units: 64, inputShape: [32], activation: "relu" }), tf.layers.dense({ units: 1 })] });\nfm.compile({ optimizer: "sgd", loss: "meanSquaredError" });\nconst fx = tf.randomNormal([512, 32]);\nconst fy = tf.randomNormal([512, 1]);\nconst sum = () => fm.getWeights().map((w) => w.sum().arraySync() as number).reduce((a, b) => a + b, 0);',
      );
      const id = await k.startExecute("await fm.fit(fx, fy, { epochs: 100000, batchSize: 8, verbose: 0 });");
      const { reply } = await interruptCell(id, 1500);
      assert.equal(reply.content.ename, "KeyboardInterrupt");
      const w = await value("sum()");
      await sleep(3000);
      assert.equal(await value("sum()"), w, "no training after the interrupt");
      // fit works again in the next cell.
      await value("await fm.fit(fx, fy, { epochs: 1, batchSize: 256, verbose: 0 });");
      await stillAlive();
    });

    it("%bench stops at its next step, and the rest of the cell does not run", async () => {
      await value('import * as tf from "@tensorflow/tfjs";\nconst bm = tf.sequential({ layers: [tf.layers.dense({ units: 256, inputShape: [256], activation: "relu" }), tf.layers.dense({ units: 10 })] });\nlet afterBench = 0;');
      const id = await k.startExecute("%bench bm --runs 100000 --batch 1,8,32\nafterBench = 1;");
      const { reply, ms } = await interruptCell(id, 1000);
      assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
      assert.ok(ms < 5000, `took ${ms} ms`);
      assert.equal(await value("afterBench"), "0");
      await stillAlive();
    });

    it("a loop of fits in one cell does not start another fit after the interrupt", async () => {
      const id = await k.startExecute("let rounds = 0;\nfor (let i = 0; i < 100000; i++) { await fm.fit(fx, fy, { epochs: 1, batchSize: 64, verbose: 0 }); rounds++; }");
      const { reply } = await interruptCell(id, 1000);
      assert.equal(reply.content.ename, "KeyboardInterrupt");
      const [r, w] = [await value("rounds"), await value("sum()")];
      await sleep(2000);
      assert.deepEqual([await value("rounds"), await value("sum()")], [r, w]);
      await stillAlive();
    });
  });

  it("a runaway timer callback of a finished cell is stopped by interrupt_request", async () => {
    const id = await k.startExecute("setTimeout(() => { while (true) {} }, 1000);");
    await k.finish("shell", id, 30000);
    await sleep(1500); // the callback is spinning now
    await k.send("control", "interrupt_request", {});
    await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && /KeyboardInterrupt: stopped a timer callback \(from cell \[\d+\]\)/.test(String(m.content.text ?? "")), 15000);
    await stillAlive();
  });

  it("a tensor too large for the wasm heap is a MemoryError naming its size and the limit", async () => {
    const { reply } = await k.execute('import * as tf from "@tensorflow/tfjs";\ntf.zeros([2 ** 30]);', 60000);
    assert.equal(reply.content.ename, "MemoryError", JSON.stringify(reply.content));
    assert.match(String(reply.content.evalue), /^a tensor of 4\.0 GiB does not fit in the wasm backend's memory \(at most 4\.0 GiB; the heap holds [\d.]+ [KMG]iB already\)/);
    await stillAlive();
  });

  describe("files and models: nothing lost, nothing left", () => {
    /** Every file under `dir` with its bytes, for a before/after comparison. */
    function snapshot(dir: string): Record<string, string> {
      const out: Record<string, string> = {};
      for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true } as never) as unknown as fs.Dirent[]) {
        const full = path.join((e as unknown as { path: string }).path ?? dir, e.name);
        if (e.isFile()) out[path.relative(dir, full)] = fs.readFileSync(full).toString("base64");
      }
      return out;
    }

    it("%quantize --save . --force and --save .. --force in a notebook folder delete nothing", async () => {
      // The kernel's working directory is `tmp`: make it look like a notebook folder.
      fs.writeFileSync(path.join(tmp, "analysis.ipynb"), '{"cells": []}');
      fs.mkdirSync(path.join(tmp, "data"), { recursive: true });
      fs.writeFileSync(path.join(tmp, "data", "digits.csv"), "1,2,3\n");
      const before = snapshot(tmp);
      const parentBefore = fs.readdirSync(path.dirname(tmp)).includes(path.basename(tmp));
      await value('import * as tf from "@tensorflow/tfjs";\nconst qm = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] })] });');
      for (const target of [".", ".."]) {
        const { reply } = await k.execute(`%quantize qm --bits 8 --save ${target} --force`);
        assert.equal(reply.content.status, "error", `--save ${target} --force must be refused`);
        assert.match(String(reply.content.evalue), /never replaces|working directory|ancestor/);
      }
      assert.deepEqual(snapshot(tmp), before, "the notebook folder is byte for byte as it was");
      assert.ok(parentBefore && fs.existsSync(tmp));
      await stillAlive();
    });

    it("a failing %quantize --inplace leaves the model's weights as they were, and no tensor behind", async () => {
      const bytes = "qm.getWeights().map((w) => Array.from(w.dataSync()).join(\",\")).join(\"|\")";
      const w0 = await value(bytes);
      const n0 = await value("tf.memory().numTensors");
      fs.writeFileSync(path.join(tmp, "a-file"), "not a folder");
      const { reply } = await k.execute("%quantize qm --bits 4 --inplace --save a-file/out");
      assert.equal(reply.content.status, "error");
      assert.equal(await value(bytes), w0);
      assert.equal(await value("tf.memory().numTensors"), n0);
    });

    it("every magic's failure path leaves the tensor count as it was", async () => {
      await value('import * as tf from "@tensorflow/tfjs";\nconst lm = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] })] });\nconst lx = tf.randomNormal([16, 3]);\nconst ly = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], "int32"), 4).toFloat();\nconst bad = tf.randomNormal([16, 5]);');
      const failing = [
        "%prune lm --sparsity 0.5 --data {{ xs: bad, ys: ly }} --epochs 1",
        "%quantize lm --bits 4 --qat --data {{ xs: bad, ys: ly }} --epochs 1",
        "%evaluate lm --data {{ xs: bad, ys: ly }}",
        "%compare lm lm --data {{ xs: bad, ys: ly }} --runs 1 --warmup 0",
        "%bench lm --batch 2000000000",
        "%distill lm lm --data {{ xs: bad, ys: ly }} --epochs 1",
      ];
      for (const line of failing) {
        const n0 = await value("tf.memory().numTensors");
        const { reply } = await k.execute(line);
        assert.equal(reply.content.status, "error", `${line} should fail`);
        assert.notEqual(reply.content.ename, "UsageError", `${line} must fail while running, not at parsing`);
        assert.equal(await value("tf.memory().numTensors"), n0, `${line} leaked tensors`);
      }
      await stillAlive();
    });
  });

  it("the heartbeat answers during a 10 s synchronous cell", async () => {
    const id = await k.startExecute("const until = Date.now() + 10000;\nwhile (Date.now() < until) {}\n'done'");
    await started(id);
    await sleep(500);
    const rtts: number[] = [];
    for (let i = 0; i < 8; i++) {
      rtts.push(await k.ping(1500));
      await sleep(500);
    }
    const { reply } = await k.finish("shell", id, 30000);
    assert.equal(reply.content.status, "ok");
    assert.ok(Math.max(...rtts) < 1500, `heartbeat round trips ${rtts.join(", ")} ms`);
  });

  it("a flood of 10^6 console.log lines arrives in few messages, capped with a note, and ends idle", async () => {
    const id = await k.startExecute("for (let i = 0; i < 1e6; i++) console.log(i);");
    const { reply, iopub } = await k.finish("shell", id, 120000);
    assert.equal(reply.content.status, "ok");
    const streams = iopub.filter((m) => m.header.msg_type === "stream");
    assert.ok(streams.length < 200, `${streams.length} stream messages`);
    const out = streamText(iopub, "stdout");
    assert.equal(out.length, 2_000_000, "stdout up to the cap");
    assert.ok(out.startsWith("0\n1\n2\n"));
    assert.match(streamText(iopub), /\[slimlab\] [\d,]+ more characters of stdout were not shown: one cell may print 2,000,000/);
    assert.equal(kinds(iopub).pop(), "status");
    await stillAlive();
  });

  describe("forged and broken messages", () => {
    it("a correctly signed message with invalid JSON on shell, then on control, stops no loop", async () => {
      await k.sendFrames("shell", k.malformedFrames("execute_request"));
      await k.sendFrames("control", k.malformedFrames("kernel_info_request"));
      await sleep(200);
      await stillAlive();
      const { reply } = await k.request("control", "kernel_info_request", {});
      assert.equal(reply.content.status, "ok");
      assert.match(k.stderr, /invalid JSON/);
    });

    it("a replayed signed message runs once", async () => {
      await value("let replays = 0;");
      const frames = k.frames("execute_request", { code: "replays++;", silent: false, store_history: true, user_expressions: {}, allow_stdin: false });
      await k.sendFrames("shell", frames);
      await k.sendFrames("shell", frames);
      await sleep(1000);
      assert.equal(await value("replays"), "1");
      assert.match(k.stderr, /replayed message/);
    });

    it("unknown message types are skipped and the kernel answers on", async () => {
      await k.send("shell", "no_such_request", {});
      await stillAlive();
    });
  });
});

describe("reliability: a cell that fills the JavaScript heap is stopped with a MemoryError (kernel with a 512 MB heap)", function () {
  this.timeout(120000);
  let tmp: string;
  let k: KernelClient;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-heap-"));
    const argv = (file: string) => [...KERNEL_NODE_FLAGS, "--max-old-space-size=512", path.resolve(__dirname, "../../../bin/slimlab.js"), "kernel", file];
    k = await KernelClient.start(tmp, 60000, argv);
  });

  after(async () => {
    await k?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("fills the heap, gets MemoryError, and the kernel goes on", async () => {
    // Generous limits: the first cell type-checks from cold, and the one after the MemoryError runs while the
    // kernel's heap is still being collected (a clean-clone CI run once took over 20 s on one of them).
    const first = await k.execute("let survivor = 7;", 60000);
    assert.equal(first.reply.content.status, "ok");
    const { reply } = await k.execute("const hog: number[][] = [];\nfor (;;) hog.push(new Array(1000).fill(1.5));", 90000);
    assert.equal(reply.content.ename, "MemoryError", JSON.stringify(reply.content));
    assert.match(String(reply.content.evalue), /^the JavaScript heap reached [\d.]+ MiB of its [\d.]+ MiB limit, so the code was stopped before Node would end the kernel/);
    assert.equal(k.proc.exitCode, null);
    const after = await k.execute("survivor", 60000);
    assert.equal(after.reply.content.status, "ok");
  });
});
