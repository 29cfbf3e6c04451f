/**
 * The kernel over real ZeroMQ sockets (messaging spec 5.3): a child process
 * started as Jupyter starts it, driven by test/kernel/zmq-client.ts.
 * Tests run in order on one kernel; the last one shuts it down.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Message } from "../../kernel/wire";
import { Exchange, KernelClient } from "./zmq-client";

const types = (msgs: Message[]) => msgs.map((m) => m.header.msg_type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kernel protocol over ZeroMQ", function () {
  this.timeout(60000);
  let tmp: string;
  let k: KernelClient;

  /** Executes `code`, which must succeed; returns its execute_result text. */
  async function value(code: string): Promise<string> {
    const { reply, iopub } = await k.execute(code);
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    const result = iopub.find((m) => m.header.msg_type === "execute_result");
    assert.ok(result, `no execute_result for ${JSON.stringify(code)}`);
    return (result.content.data as Record<string, string>)["text/plain"];
  }

  /** Waits until the kernel has announced the start of execute request `id`. */
  const started = (id: string) => k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "execute_input");

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-proto-"));
    k = await KernelClient.start(tmp);
  });

  after(async () => {
    if (k) {
      assert.deepEqual(k.badMessages, [], "every message from the kernel is signed and well formed");
      await k.close();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("kernel_info_reply has status ok and language_info", async () => {
    const { reply, iopub } = await k.request("shell", "kernel_info_request", {});
    assert.equal(reply.header.msg_type, "kernel_info_reply");
    assert.equal(reply.header.version, "5.3");
    const c = reply.content as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(c.status, "ok");
    assert.equal(c.protocol_version, "5.3");
    assert.equal(c.implementation, "slimlab");
    assert.equal(c.language_info.name, "typescript");
    assert.equal(c.language_info.file_extension, ".ts");
    assert.equal(c.language_info.mimetype, "text/typescript");
    assert.match(c.banner, /^slimlab \d+\.\d+\.\d+: TypeScript \(tslab 1\.0\.22, TypeScript /);
    assert.deepEqual(types(iopub), ["status", "status"]);
    assert.deepEqual(iopub.map((m) => m.content.execution_state), ["busy", "idle"]);
  });

  it("execute_request: execute_input echoes the code, then execute_result and an ok reply", async () => {
    const first: Exchange = await k.execute("1 + 2");
    assert.deepEqual(types(first.iopub), ["status", "execute_input", "execute_result", "status"]);
    const input = first.iopub[1].content;
    assert.equal(input.code, "1 + 2");
    const n = input.execution_count as number;
    assert.ok(Number.isInteger(n) && n >= 1);
    assert.deepEqual(first.iopub[2].content, { execution_count: n, data: { "text/plain": "3" }, metadata: {} });
    assert.equal(first.reply.header.msg_type, "execute_reply");
    assert.equal(first.reply.content.status, "ok");
    assert.equal(first.reply.content.execution_count, n);

    const second = await k.execute('console.log("hello, world")');
    assert.equal(second.reply.content.execution_count, n + 1);
    const stream = second.iopub.find((m) => m.header.msg_type === "stream");
    assert.deepEqual(stream?.content, { name: "stdout", text: "hello, world\n" });
    assert.ok(!types(second.iopub).includes("execute_result"), "a cell with no value has no execute_result");
  });

  it("an error gives exactly one error message and an error reply with ename, evalue, traceback", async () => {
    const { reply, iopub } = await k.execute('const okBefore = 1;\nthrow new Error("boom")');
    const errors = iopub.filter((m) => m.header.msg_type === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0].content.ename, "Error");
    assert.equal(errors[0].content.evalue, "boom");
    const tb = errors[0].content.traceback as string[];
    assert.equal(tb[0], "Error: boom");
    assert.match(tb[1], /\(cell line 2, column \d+\)$/);
    assert.ok(!types(iopub).includes("execute_result"));
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "Error");
    assert.equal(reply.content.evalue, "boom");
    assert.deepEqual(reply.content.traceback, tb);
    assert.equal(reply.content.execution_count, errors[0].content.execution_count);
  });

  it("a bad magic line is a UsageError reply", async () => {
    const { reply, iopub } = await k.execute("%timeit --bogus 1 x");
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "UsageError");
    assert.equal(reply.content.evalue, "%timeit: unknown flag --bogus; allowed: --n --r --quiet --output");
    assert.equal(iopub.filter((m) => m.header.msg_type === "error").length, 1);
  });

  it("comm_info_request is answered with comm_info_reply", async () => {
    const { reply } = await k.request("shell", "comm_info_request", {});
    assert.equal(reply.header.msg_type, "comm_info_reply");
    assert.deepEqual(reply.content, { status: "ok", comms: {} });
  });

  it("history_request is answered, with and without outputs", async () => {
    const tail = await k.request("shell", "history_request", { hist_access_type: "tail", n: 100, output: false, raw: true });
    assert.equal(tail.reply.header.msg_type, "history_reply");
    assert.equal(tail.reply.content.status, "ok");
    const history = tail.reply.content.history as [number, number, string][];
    const hit = history.find(([, , input]) => input === "1 + 2");
    assert.ok(hit, JSON.stringify(history));
    const withOut = await k.request("shell", "history_request", { hist_access_type: "search", pattern: "1 +*", n: 10, output: true, raw: true });
    const found = withOut.reply.content.history as [number, number, [string, string | null]][];
    assert.deepEqual(found.find(([, line]) => line === hit[1])?.[2], ["1 + 2", "3"]);
  });

  it("is_complete: magic lines are complete, open blocks incomplete, unknown magics invalid", async () => {
    const ask = async (code: string) => (await k.request("shell", "is_complete_request", { code })).reply.content;
    assert.deepEqual(await ask("%timeit -n 1 f()"), { status: "complete" });
    assert.deepEqual(await ask("%lsmagic"), { status: "complete" });
    assert.equal((await ask("function f() {")).status, "incomplete");
    assert.deepEqual(await ask("%nosuchmagic x"), { status: "invalid" });
  });

  it("interrupt_request on control stops an await; variables keep their values", async () => {
    assert.equal(await value("let keepA = 1;\nkeepA"), "1");
    const id = await k.startExecute('keepA = 2;\nconsole.log("waiting");\nawait new Promise((r) => setTimeout(r, 60000));\nkeepA = 3;');
    await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && /waiting/.test(String(m.content.text)));
    await sleep(100);
    const t0 = Date.now();
    const intr = await k.request("control", "interrupt_request", {});
    assert.equal(intr.reply.header.msg_type, "interrupt_reply");
    assert.equal(intr.reply.content.status, "ok");
    const { reply, iopub } = await k.finish("shell", id, 10000);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "KeyboardInterrupt");
    assert.equal(iopub.filter((m) => m.header.msg_type === "error").length, 1);
    assert.equal(await value("keepA"), "2");
  });

  it("SIGINT stops a busy synchronous loop; the kernel keeps its state", async () => {
    assert.equal(await value("let keepB = 1;\nkeepB"), "1");
    const marker = path.join(tmp, "looping");
    const id = await k.startExecute(`keepB = 2;\nrequire("fs").writeFileSync(${JSON.stringify(marker)}, "");\nwhile (true) {}`);
    await started(id);
    // Signal once the loop runs (a signal while the cell is type-checked stops
    // it before its first line); until the reply comes, keep signalling.
    for (let i = 0; i < 200 && !fs.existsSync(marker); i++) await sleep(50);
    const pid = k.proc.pid as number;
    let replied = false;
    const done = k.finish("shell", id, 20000).finally(() => (replied = true));
    for (let i = 0; i < 40 && !replied; i++) {
      process.kill(pid, "SIGINT");
      await sleep(250);
    }
    const { reply } = await done;
    assert.equal(reply.content.status, "error");
    assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
    assert.equal(k.proc.exitCode, null, "the kernel is still running");
    assert.equal(await value("keepB"), "2");
    assert.equal(await value("keepA + keepB"), "4");
  });

  it("a loop checking interrupted() stops at its next step, and the cell ends with KeyboardInterrupt", async () => {
    const id = await k.startExecute(
      'import { interrupted } from "slimlab";\nlet ticks = 0;\nconsole.log("looping");\nwhile (!interrupted()) { await new Promise((r) => setTimeout(r, 10)); ticks++; }\n"not reached as a result"',
    );
    // Interrupt the loop once it runs (an interrupt during type-checking stops the cell before its first line).
    await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && /looping/.test(String(m.content.text)));
    await sleep(100);
    await k.request("control", "interrupt_request", {});
    const { reply, iopub } = await k.finish("shell", id, 10000);
    assert.equal(reply.content.ename, "KeyboardInterrupt", JSON.stringify(reply.content));
    assert.ok(!types(iopub).includes("execute_result"));
    const ticks = await value("ticks");
    await sleep(300);
    assert.equal(await value("ticks"), ticks, "the loop stopped");
    // The interrupt's grace timer must not hit the next cell.
    assert.equal(await value('await new Promise((r) => setTimeout(r, 1700));\n"next cell ran"'), "'next cell ran'");
  });

  it("shutdown_request is answered and the process exits", async () => {
    const id = await k.send("control", "shutdown_request", { restart: false });
    const reply = await k.waitFor("control", (m) => m.parent_header.msg_id === id);
    assert.equal(reply.header.msg_type, "shutdown_reply");
    assert.deepEqual(reply.content, { status: "ok", restart: false });
    const code = await Promise.race([k.exited, sleep(5000).then(() => "still running")]);
    assert.equal(code, 0);
  });
});
