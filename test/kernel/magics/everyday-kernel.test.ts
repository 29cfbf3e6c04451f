/**
 * The everyday magics against the real kernel over ZeroMQ
 * (test/kernel/zmq-client.ts), as a frontend meets them: each one's help in
 * the pager payload (generated from its declaration), its name and flags
 * from complete_request, its bad input as one error line after which the
 * kernel keeps running with its variables, and `%%bash` output streamed
 * while the script runs. What each magic does is tested through CellRunner
 * in everyday.test.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { flagName, helpText, MagicSpec } from "../../../plugins/core/magic";
import { loadPluginMagic } from "../../../kernel/magics/builtins";
import { runFileMagic, whoLsMagic, whoMagic, whosMagic } from "../../../kernel/magics/namespace";
import { bashMagic, cdMagic, envMagic, pwdMagic, shMagic, sxMagic, systemMagic, writefileMagic } from "../../../kernel/magics/shell";
import { KernelClient } from "../zmq-client";

const EVERYDAY = [systemMagic, sxMagic, bashMagic, shMagic, cdMagic, pwdMagic, envMagic, writefileMagic, whoMagic, whosMagic, whoLsMagic, runFileMagic, loadPluginMagic] as unknown as MagicSpec[];

/** How a magic is written: `%%name` for one that only starts a cell. */
const written = (spec: MagicSpec) => `${spec.line === false ? "%%" : "%"}${spec.name}`;

describe("kernel/magics: the everyday ones over ZeroMQ (help, completion, bad input)", function () {
  this.timeout(60000);
  let tmp: string;
  let k: KernelClient;

  before(async () => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-everyday-zmq-")));
    k = await KernelClient.start(tmp);
    const { reply } = await k.execute("let kept = 41;");
    assert.equal(reply.content.status, "ok");
  });

  after(async () => {
    if (k) {
      assert.deepEqual(k.badMessages, [], "every message from the kernel is signed and well formed");
      await k.close();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("each one's help is in the execute_reply's pager payload, generated from its declaration", async () => {
    for (const spec of EVERYDAY) {
      const { reply, iopub } = await k.execute(`${written(spec)}?`);
      assert.equal(reply.content.status, "ok", `${written(spec)}?: ${JSON.stringify(reply.content)}`);
      const payload = reply.content.payload as { source: string; data: Record<string, string> }[];
      assert.equal(payload.length, 1, `${written(spec)}? gives one page`);
      assert.equal(payload[0].source, "page");
      assert.equal(payload[0].data["text/plain"], helpText(spec));
      assert.ok(!iopub.some((m) => m.header.msg_type === "error"), `${written(spec)}? ran nothing`);
    }
  });

  it("each one completes from its first letters at the cell's start, and its flags after --", async () => {
    for (const spec of EVERYDAY) {
      const typed = written(spec).slice(0, written(spec).length - Math.ceil(spec.name.length / 2));
      const names = (await k.request("shell", "complete_request", { code: typed, cursor_pos: typed.length })).reply.content;
      assert.equal(names.status, "ok");
      assert.ok((names.matches as string[]).includes(written(spec)), `${typed} → ${JSON.stringify(names.matches)} lacks ${written(spec)}`);
      assert.deepEqual([names.cursor_start, names.cursor_end], [0, typed.length]);
      const flags = Object.keys(spec.flags).map((f) => `--${flagName(f)}`);
      if (flags.length === 0) continue;
      const line = `${written(spec)} --`;
      const got = (await k.request("shell", "complete_request", { code: line, cursor_pos: line.length })).reply.content;
      assert.deepEqual(got.matches, flags, `flags of ${written(spec)}`);
    }
  });

  it("bad input to each is one error line, and the kernel goes on with its variables", async () => {
    const cases: [code: string, ename: string, evalue: string][] = [
      ["!", "UsageError", "!: missing the shell command, e.g. !ls -l"],
      ["%system", "UsageError", "%system: missing <command> (the shell command); usage: %system <command...>"],
      ["%sx", "UsageError", "%sx: missing <command> (the shell command); usage: %sx <command...>"],
      ["!exit 3", "CalledProcessError", 'Command "exit 3" returned non-zero exit status 3.'],
      ["%%bash extra\necho", "UsageError", '%bash: unexpected argument "extra"; usage: %%bash'],
      ["%%bash\nexit 4", "CalledProcessError", "Command (the %%bash cell) returned non-zero exit status 4."],
      ["%sh echo", "UsageError", "%sh is a cell magic; write %%sh on the first line of the cell"],
      ["%%sh\nfalse", "CalledProcessError", "Command (the %%sh cell) returned non-zero exit status 1."],
      ["%cd nowhere", "SlimlabError", `%cd: ${JSON.stringify(path.join(tmp, "nowhere"))}: no such folder`],
      ["%pwd x", "UsageError", '%pwd: unexpected argument "x"; usage: %pwd'],
      ["%env 9LIVES=x", "SlimlabError", '%env: "9LIVES" is not a variable name; write %env NAME=value'],
      ["%writefile f.txt", "UsageError", "%writefile is a cell magic; write %%writefile on the first line of the cell"],
      ["%%writefile no/such/folder/f.txt\nx", "SlimlabError", `%%writefile: no folder ${JSON.stringify(path.join(tmp, "no", "such", "folder"))}; create it first (!mkdir -p ...)`],
      ["%who --all", "UsageError", "%who: unknown flag --all; allowed: none"],
      ["%whos -x", "UsageError", "%whos: unknown flag -x; allowed: none"],
      ["const names = %who_ls --bogus", "UsageError", "%who_ls: unknown flag --bogus; allowed: none"],
      ["%run nothere.ts", "SlimlabError", `%run: cannot read ${JSON.stringify(path.join(tmp, "nothere.ts"))}: no such file`],
      ["%load_plugin --relaod p.js", "UsageError", "%load_plugin: unknown flag --relaod (did you mean --reload?); allowed: --reload"],
    ];
    for (const [code, ename, evalue] of cases) {
      const { reply, iopub } = await k.execute(code);
      const errors = iopub.filter((m) => m.header.msg_type === "error");
      assert.equal(reply.content.status, "error", `${code}: ${JSON.stringify(reply.content)}`);
      assert.deepEqual([reply.content.ename, reply.content.evalue], [ename, evalue], code);
      assert.equal(errors.length, 1, `${code}: one error output`);
      assert.deepEqual(errors[0].content.traceback, reply.content.traceback);
      assert.equal((reply.content.traceback as string[]).length, 1, `${code}: one line`);
      assert.ok(!evalue.includes("\n"));
    }
    assert.equal(k.proc.exitCode, null, "the kernel is running");
    const after = await k.execute("kept + 1");
    assert.equal(after.reply.content.status, "ok");
    const result = after.iopub.find((m) => m.header.msg_type === "execute_result");
    assert.equal((result?.content.data as Record<string, string>)["text/plain"], "42");
  });

  it("%%bash streams its output while the script runs, then its exit code is the error", async () => {
    const id = await k.startExecute("%%bash\necho first\nsleep 1.5\necho second\nexit 6", { stop_on_error: false });
    const first = await k.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && /first/.test(String(m.content.text)));
    const t0 = Date.now();
    assert.doesNotMatch(String(first.content.text), /second/);
    const { reply, iopub } = await k.finish("shell", id);
    assert.ok(Date.now() - t0 > 800, "the first line came before the script ended");
    const streamed = iopub.filter((m) => m.header.msg_type === "stream").map((m) => String(m.content.text)).join("");
    assert.equal(streamed, "first\nsecond\n");
    assert.deepEqual([reply.content.ename, reply.content.evalue], ["CalledProcessError", "Command (the %%bash cell) returned non-zero exit status 6."]);
  });
});
