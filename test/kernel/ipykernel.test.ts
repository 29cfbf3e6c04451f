/**
 * ipykernel's habits, over real ZeroMQ (test/kernel/zmq-client.ts):
 * stop_on_error aborting queued requests (and not, when false),
 * is_complete "invalid", user_expressions, input() over the stdin channel,
 * display handles updated in place, tslab's display API, `$_` / `$Out`,
 * and shell output streamed while the command runs.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Message } from "../../kernel/wire";
import { KernelClient } from "./zmq-client";

const types = (msgs: Message[]) => msgs.map((m) => m.header.msg_type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EXECUTE = { silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true };

describe("kernel: ipykernel's behaviour over ZeroMQ", function () {
  this.timeout(60000);
  let tmp: string;
  let k: KernelClient;

  async function value(code: string, extra: Record<string, unknown> = {}): Promise<string> {
    const { reply, iopub } = await k.request("shell", "execute_request", { ...EXECUTE, code, ...extra });
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    const result = iopub.find((m) => m.header.msg_type === "execute_result");
    return (result?.content.data as Record<string, string> | undefined)?.["text/plain"] ?? "";
  }

  const started = (id: string) => k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "execute_input");

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-ipyk-"));
    k = await KernelClient.start(tmp);
    await value("let counter = 0;");
  });

  after(async () => {
    if (k) {
      assert.deepEqual(k.badMessages, [], "every message from the kernel is signed and well formed");
      await k.close();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("stop_on_error", () => {
    /** Starts a cell that fails after `ms`, queues `queued` behind it, and returns every reply. */
    async function failThenQueue(failing: Record<string, unknown>, queued: Record<string, unknown>[]): Promise<{ first: Message; rest: { reply: Message; iopub: Message[] }[] }> {
      const id = await k.startExecute('await new Promise((r) => setTimeout(r, 700));\nthrow new Error("first fails")', failing);
      await started(id);
      const ids = [];
      for (const q of queued) ids.push(await k.startExecute("counter += 1;\ncounter", q));
      const first = (await k.finish("shell", id)).reply;
      const rest = [];
      for (const q of ids) rest.push(await k.finish("shell", q));
      return { first, rest };
    }

    it("true: requests queued when a cell fails are replied 'aborted' without running", async () => {
      const { first, rest } = await failThenQueue({ stop_on_error: true }, [{ stop_on_error: true }, { stop_on_error: true }]);
      assert.equal(first.content.status, "error");
      for (const { reply, iopub } of rest) {
        assert.equal(reply.header.msg_type, "execute_reply");
        assert.deepEqual(reply.content, { status: "aborted" });
        assert.deepEqual(types(iopub), ["status", "status"], "busy and idle only: no execute_input, nothing ran");
      }
      assert.equal(await value("counter"), "0", "the aborted cells did not run");
    });

    it("the abort ends with the queue: a request sent afterwards runs", async () => {
      const { reply } = await k.execute("counter");
      assert.equal(reply.content.status, "ok");
    });

    it("false: requests queued behind the failing cell run as usual", async () => {
      const { first, rest } = await failThenQueue({ stop_on_error: false }, [{ stop_on_error: false }, { stop_on_error: false }]);
      assert.equal(first.content.status, "error");
      assert.deepEqual(
        rest.map((r) => r.reply.content.status),
        ["ok", "ok"],
      );
      assert.equal(await value("counter"), "2");
    });

    it("as in ipykernel, the failing request's flag decides: false there, and queued ones run whatever theirs", async () => {
      const { rest } = await failThenQueue({ stop_on_error: false }, [{ stop_on_error: true }]);
      assert.equal(rest[0].reply.content.status, "ok");
      assert.equal(await value("counter"), "3");
    });

    it("a silent request that fails aborts nothing", async () => {
      const { rest } = await failThenQueue({ silent: true, store_history: false }, [{}]);
      assert.equal(rest[0].reply.content.status, "ok");
      assert.equal(await value("counter"), "4");
    });
  });

  it("is_complete: code that cannot parse is 'invalid'; open code 'incomplete'; shell and magic lines complete", async () => {
    const ask = async (code: string) => (await k.request("shell", "is_complete_request", { code })).reply.content;
    assert.deepEqual(await ask("let 3x = ;"), { status: "invalid" });
    assert.deepEqual(await ask("class A { m( }"), { status: "invalid" });
    assert.equal((await ask("function f() {")).status, "incomplete");
    assert.equal((await ask("const a = 1 +")).status, "incomplete");
    assert.deepEqual(await ask("const ok = [1, 2];"), { status: "complete" });
    assert.deepEqual(await ask("!ls -la | grep '{x'"), { status: "complete" });
    assert.deepEqual(await ask("%%bash\nif [ -d x ]; then echo ("), { status: "complete" });
    assert.deepEqual(await ask("%timeit --bogus 1"), { status: "invalid" });
  });

  describe("user_expressions", () => {
    it("are evaluated after the cell: each a MIME bundle, or an error dict", async () => {
      const { reply } = await k.request("shell", "execute_request", {
        ...EXECUTE,
        code: "const ux = 20;\n'cell value'",
        user_expressions: { sum: "ux + 1", text: "ux.toFixed(1)", last: "$_", bad: "ux.nope", thrown: "(() => { throw new RangeError('no') })()" },
      });
      assert.equal(reply.content.status, "ok");
      const ue = reply.content.user_expressions as Record<string, Record<string, unknown>>;
      assert.deepEqual(ue.sum, { status: "ok", data: { "text/plain": "21" }, metadata: {} });
      assert.deepEqual(ue.text, { status: "ok", data: { "text/plain": "'20.0'" }, metadata: {} });
      assert.deepEqual(ue.last, { status: "ok", data: { "text/plain": "'cell value'" }, metadata: {} });
      assert.equal(ue.bad.status, "error");
      assert.equal(ue.bad.ename, "TypeScriptError");
      assert.equal(ue.bad.evalue, "line 1, column 4: Property 'nope' does not exist on type '20'. (TS2339)");
      assert.ok(Array.isArray(ue.bad.traceback));
      assert.equal(ue.thrown.status, "error");
      assert.equal(ue.thrown.ename, "RangeError");
      assert.equal(ue.thrown.evalue, "no");
    });

    it("one that never ends is stopped by an interrupt, as a cell is, and the reply comes", async () => {
      const id = await k.startExecute("const quick = 1;", { user_expressions: { forever: "await new Promise(() => undefined)" } });
      await started(id);
      await sleep(800);
      await k.request("control", "interrupt_request", {});
      const { reply } = await k.finish("shell", id);
      assert.equal(reply.content.status, "ok");
      const ue = reply.content.user_expressions as Record<string, Record<string, unknown>>;
      assert.equal(ue.forever.status, "error");
      assert.equal(ue.forever.ename, "KeyboardInterrupt");
    });

    it("are not evaluated when the cell fails (ipykernel: an empty dict)", async () => {
      const { reply } = await k.request("shell", "execute_request", { ...EXECUTE, code: "throw new Error('x')", user_expressions: { a: "1" }, stop_on_error: false });
      assert.equal(reply.content.status, "error");
      assert.deepEqual(reply.content.user_expressions, {});
    });
  });

  describe("input() over the stdin channel", () => {
    afterEach(() => k.answerInput(undefined));

    it("input_request carries prompt and password; the input_reply's value is the cell's", async () => {
      const seen: Message[] = [];
      k.answerInput((req) => (seen.push(req), String(req.content.prompt) === "name? " ? "Ada" : "secret"));
      const id = await k.startExecute('import { input } from "slimlab";\nconst who = await input("name? ");\nconst pw = await input("pw: ", { password: true });\n`${who}/${pw}`', { allow_stdin: true });
      const { reply, iopub } = await k.finish("shell", id);
      assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
      assert.equal((iopub.find((m) => m.header.msg_type === "execute_result")?.content.data as Record<string, string>)["text/plain"], "'Ada/secret'");
      assert.deepEqual(
        seen.map((m) => m.content),
        [
          { prompt: "name? ", password: false },
          { prompt: "pw: ", password: true },
        ],
      );
      assert.ok(seen.every((m) => m.header.msg_type === "input_request" && m.parent_header.msg_id === id), "input_request answers the execute_request");
    });

    it("the global prompt() asks too, and gives its default for an empty answer", async () => {
      k.answerInput((req) => (String(req.content.prompt) === "empty?" ? "" : "typed"));
      assert.equal(await value('[await prompt("typed?"), await prompt("empty?", "fallback")].join()', { allow_stdin: true }), "'typed,fallback'");
    });

    it("without allow_stdin, input() fails at once: the frontend takes no input", async () => {
      const { reply } = await k.request("shell", "execute_request", { ...EXECUTE, code: 'import { input } from "slimlab";\nawait input("x? ")', allow_stdin: false, stop_on_error: false });
      assert.equal(reply.content.status, "error");
      assert.equal(reply.content.ename, "StdinNotImplementedError");
      assert.match(String(reply.content.evalue), /this frontend does not support input requests/);
      assert.equal(k.received("stdin").filter((m) => m.parent_header.msg_id === reply.parent_header.msg_id).length, 0, "no input_request was sent");
    });

    it("an interrupt while waiting ends the cell; a reply that comes later is dropped, and input works again", async () => {
      const id = await k.startExecute('const late = await prompt("never answered");', { allow_stdin: true });
      const req = await k.waitFor("stdin", (m) => m.parent_header.msg_id === id);
      await k.request("control", "interrupt_request", {});
      const { reply } = await k.finish("shell", id);
      assert.equal(reply.content.ename, "KeyboardInterrupt");
      await k.replyInput(req, "too late");
      await sleep(200);
      k.answerInput(() => "fresh");
      assert.equal(await value('await prompt("again?")', { allow_stdin: true }), "'fresh'");
    });
  });

  it("display handles: display.* returns a handle whose update replaces the output (update_display_data, same display_id)", async () => {
    const { reply, iopub } = await k.execute('import { display } from "slimlab";\nconst h = display.html("<b>1</b>");\nh.update("<b>2</b>");\nconst f = display.plotly({ data: [{ y: [1, 2] }] });\nf.update({ data: [{ y: [3, 1] }] });\nh');
    assert.equal(reply.content.status, "ok");
    const id = (m: Message) => (m.content.transient as { display_id?: string }).display_id;
    // (plotly.js itself arrives in an output of its own, with no display_id, before the first figure)
    const shown = iopub.filter((m) => m.header.msg_type === "display_data" && id(m));
    const updates = iopub.filter((m) => m.header.msg_type === "update_display_data");
    assert.equal(shown.length, 2);
    assert.equal(updates.length, 2);
    assert.ok(id(shown[0]) && id(shown[1]) && id(shown[0]) !== id(shown[1]));
    assert.equal(id(updates[0]), id(shown[0]));
    assert.equal((updates[0].content.data as Record<string, string>)["text/html"], "<b>2</b>");
    assert.equal(id(updates[1]), id(shown[1]));
    assert.deepEqual((updates[1].content.data as Record<string, { data: unknown }>)["application/vnd.plotly.v1+json"].data, [{ y: [3, 1] }]);
    assert.ok(!types(iopub).includes("execute_result"), "a handle as the last value shows nothing more");
  });

  it('import * as tslab from "tslab": display and newDisplay go to the frontend as tslab sends them', async () => {
    const { reply, iopub } = await k.execute('import * as tslab from "tslab";\ntslab.display.markdown("*m*");\nconst d = tslab.newDisplay();\nd.text("step 1");\nd.text("step 2");');
    assert.equal(reply.content.status, "ok", JSON.stringify(reply.content));
    const out = iopub.filter((m) => /display_data$/.test(m.header.msg_type));
    assert.deepEqual(types(out), ["display_data", "display_data", "update_display_data"]);
    assert.deepEqual(out.map((m) => m.content.data), [{ "text/markdown": "*m*" }, { "text/plain": "step 1" }, { "text/plain": "step 2" }]);
    const ids = out.map((m) => (m.content.transient as { display_id?: string }).display_id);
    assert.equal(ids[0], undefined);
    assert.ok(ids[1] && ids[1] === ids[2]);
  });

  it("$_, $__ and $Out[n] hold earlier results; a silent request changes none of them", async () => {
    const first = await k.execute("'x'.repeat(2)");
    const n = first.reply.content.execution_count as number;
    assert.equal(await value("40 + 2"), "42");
    await k.request("shell", "execute_request", { ...EXECUTE, code: "'silent'", silent: true, store_history: false });
    assert.equal(await value(`[$_, $__, $Out[${n}]].join()`), "'42,xx,xx'");
  });

  it("!cmd streams its output while it runs, and a non-zero exit is an error naming the code", async () => {
    const id = await k.startExecute("!echo first; sleep 1.5; echo second; exit 7", { stop_on_error: false });
    const first = await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && /first/.test(String(m.content.text)));
    const t0 = Date.now();
    assert.doesNotMatch(String(first.content.text), /second/);
    const { reply } = await k.finish("shell", id);
    assert.ok(Date.now() - t0 > 800, "the first line came before the command ended");
    assert.equal(reply.content.ename, "CalledProcessError");
    assert.equal(reply.content.evalue, 'Command "echo first; sleep 1.5; echo second; exit 7" returned non-zero exit status 7.');
  });
});
