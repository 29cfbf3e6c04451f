/**
 * IPython's everyday magics through CellRunner: `!cmd` / `%system` / `%sx`,
 * `%%bash` / `%%sh`, `%cd` / `%pwd`, `%env`, `%%writefile`, `%who` /
 * `%whos` / `%who_ls`, `%run`, `%load_plugin --reload`, completion of
 * their arguments, and each one's bad input as a single UsageError line.
 *
 * The harness is the one of test/kernel/cell-runner.test.ts; the process's
 * working directory, which %cd changes, is put back in after().
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { host, Host, setHost } from "../../../plugins/core/host";
import { CellOutcome, CellRunner } from "../../../kernel/cell-runner";
import { completeMagic } from "../../../kernel/magics/complete";
import { registerBuiltins } from "../../../kernel/magics/index";
import { takeWrites, withWrites, Write } from "../../support/capture";

const RUNTIME_SLOT = Symbol.for("slimlab.kernelRuntime");

interface Ran {
  out: CellOutcome;
  stdout: string;
  stderr: string;
}

describe("kernel/magics: the everyday ones (CellRunner)", function () {
  this.timeout(60000);
  let tmp: string;
  let runner: CellRunner;
  let prevHost: Host;
  let prevRuntime: unknown;
  let prevCwd: string;
  let captured: { stdout: Write; stderr: Write };
  let sink = { stdout: "", stderr: "" };

  async function run(code: string): Promise<Ran> {
    sink = { stdout: "", stderr: "" };
    const out = await withWrites(captured, () => runner.run(code));
    return { out, ...sink };
  }

  async function ok(code: string): Promise<Ran> {
    const r = await run(code);
    assert.ok(r.out.ok, `cell failed: ${JSON.stringify(r.out.error)}`);
    return r;
  }

  const value = async (code: string) => (await ok(code)).out.result?.["text/plain"] as string | undefined;

  /** A cell that must fail with one UsageError line whose message is `message`. */
  async function usage(code: string, message: string | RegExp): Promise<void> {
    const r = await run(code);
    assert.equal(r.out.error?.ename, "UsageError", JSON.stringify(r.out));
    assert.equal(r.out.error?.traceback.length, 1);
    if (typeof message === "string") assert.equal(r.out.error?.evalue, message);
    else assert.match(String(r.out.error?.evalue), message);
    assert.equal(r.stdout, "", "nothing ran");
  }

  /** A cell that must fail at run time with one line (`ename: message`). */
  async function fails(code: string, ename: string, message: string | RegExp): Promise<void> {
    const r = await run(code);
    assert.equal(r.out.error?.ename, ename, JSON.stringify(r.out));
    assert.deepEqual(r.out.error?.traceback.length, 1, JSON.stringify(r.out.error?.traceback));
    if (typeof message === "string") assert.equal(r.out.error?.evalue, message);
    else assert.match(String(r.out.error?.evalue), message);
  }

  const complete = (code: string) => completeMagic(code, code.length, runner.registry)?.matches;

  before(() => {
    prevCwd = process.cwd();
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-everyday-")));
    fs.mkdirSync(path.join(tmp, "sub dir"));
    fs.mkdirSync(path.join(tmp, "subset"));
    prevHost = host();
    prevRuntime = (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT];
    ({ made: runner, writes: captured } = takeWrites(() =>
      new CellRunner(
        tmp,
        {
          stream: (name, text) => void (sink[name] += text),
          display: () => undefined,
        },
        registerBuiltins,
      ),
    ));
  });

  after(() => {
    process.chdir(prevCwd);
    runner.close();
    setHost(prevHost);
    (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT] = prevRuntime;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("!cmd and %system", () => {
    it("runs the line in bash in the working directory, output to the cell", async () => {
      const r = await ok("!echo hello; pwd; echo oops 1>&2");
      assert.equal(r.stdout, `hello\n${tmp}\n`);
      assert.equal(r.stderr, "oops\n");
      assert.equal(r.out.result, undefined);
    });

    it("{name} is the variable's value, {{name}} and the shell's ${VAR}, {a,b} and {} are kept", async () => {
      const r = await ok("const dirName = 'sub dir';\nconst o = { n: 3 };\n!echo \"{dirName}\" {o.n} {{dirName}} ${HOME} {a,b} {} `echo tick`");
      assert.equal(r.stdout, `sub dir 3 {dirName} ${os.homedir()} a b {} tick\n`);
    });

    it("stands in blocks too, and a `!` that continues an expression stays TypeScript", async () => {
      assert.equal((await ok("for (const w of ['a', 'b']) {\n  !echo {w}\n}")).stdout, "a\nb\n");
      assert.equal(await value("const flag = false;\nconst neg =\n  !flag;\n;!flag\nneg"), "true");
    });

    it("a non-zero exit is one CalledProcessError line naming the code", async () => {
      await fails("!echo out; exit 3", "CalledProcessError", 'Command "echo out; exit 3" returned non-zero exit status 3.');
      await fails("%system ls /no/such/folder/here", "CalledProcessError", 'Command "ls /no/such/folder/here" returned non-zero exit status 2.');
    });

    it("%system takes the rest of the line as written: -flags and --help are the command's", async () => {
      assert.equal((await ok("%system echo -n one; echo ' two' // kept")).stdout, "one two // kept\n");
      assert.match((await ok("%system bash --help")).stdout, /GNU bash/);
    });

    it("%sx gives the output lines, typed string[]", async () => {
      assert.equal(await value("const lines = %sx printf 'a\\nb\\n'\nlines.map((l) => l.toUpperCase()).join('+')"), "'A+B'");
    });

    it("bad input: one UsageError line", async () => {
      await usage("!", "!: missing the shell command, e.g. !ls -l");
      await usage("%system", "%system: missing <command> (the shell command); usage: %system <command...>");
      await usage("%%system\nls", "%%system is a line magic; write %system ... on one line");
    });
  });

  describe("%%bash and %%sh", () => {
    it("run the cell as a script, in the working directory", async () => {
      assert.equal((await ok("%%bash\nfor i in 1 2; do echo line $i; done\n[[ -d 'sub dir' ]] && echo has-sub")).stdout, "line 1\nline 2\nhas-sub\n");
      assert.equal((await ok("%%sh\necho from sh\necho err >&2")).stdout, "from sh\n");
    });

    it("a non-zero exit is one CalledProcessError line naming the code, after the output so far", async () => {
      const r = await run("%%bash\necho before\nexit 4\necho never");
      assert.equal(r.stdout, "before\n");
      assert.deepEqual(r.out.error?.traceback, ["CalledProcessError: Command (the %%bash cell) returned non-zero exit status 4."]);
    });

    it("bad input: one UsageError line", async () => {
      await usage("%bash echo x", "%bash is a cell magic; write %%bash on the first line of the cell");
      await usage("%%sh --bogus\necho", "%sh: unknown flag --bogus; allowed: none");
      await usage("%%bash extra\necho", '%bash: unexpected argument "extra"; usage: %%bash');
    });
  });

  describe("%cd and %pwd", () => {
    it("%cd moves the working directory of commands, magics and fs; %pwd gives it (quoted, a string)", async () => {
      assert.equal(await value("%pwd"), `'${tmp}'`);
      assert.equal((await ok('%cd "sub dir"')).stdout, `${path.join(tmp, "sub dir")}\n`);
      assert.equal(process.cwd(), path.join(tmp, "sub dir"));
      assert.equal((await ok("!pwd")).stdout, `${path.join(tmp, "sub dir")}\n`);
      assert.equal(await value("const here: string = %pwd\nhere.endsWith('sub dir')"), "true");
      assert.equal((await ok("%cd -")).stdout, `${tmp}\n`);
      assert.equal((await ok("%cd ~")).stdout, `${os.homedir()}\n`);
      await ok(`%cd ${JSON.stringify(tmp)}`);
      assert.equal(await value("%pwd"), `'${tmp}'`);
    });

    it("bad input: one line", async () => {
      await fails("%cd nowhere", "SlimlabError", `%cd: ${JSON.stringify(path.join(tmp, "nowhere"))}: no such folder`);
      await usage("%cd a b", '%cd: unexpected argument "b"; usage: %cd [<folder>]');
      await usage("%pwd x", '%pwd: unexpected argument "x"; usage: %pwd');
      assert.equal(await value("%pwd"), `'${tmp}'`, "a failed %cd stays where it was");
    });
  });

  describe("%env", () => {
    it("sets (NAME=value, NAME value), gets, and lists with secret values hidden", async () => {
      assert.equal((await ok("%env SLIMLAB_TEST_A=one=1")).stdout, "env: SLIMLAB_TEST_A=one=1\n");
      assert.equal(process.env.SLIMLAB_TEST_A, "one=1");
      const v = "two words";
      assert.equal((await ok(`const twoWords = ${JSON.stringify(v)};\n%env SLIMLAB_TEST_B {twoWords}`)).stdout, "env: SLIMLAB_TEST_B=two words\n");
      assert.equal(await value("%env SLIMLAB_TEST_B"), "'two words'");
      assert.equal((await ok("!echo $SLIMLAB_TEST_B")).stdout, "two words\n", "commands see it");
      process.env.SLIMLAB_TEST_API_KEY = "do-not-show";
      const all = String(await value("%env"));
      assert.match(all, /SLIMLAB_TEST_A: 'one=1'/);
      assert.match(all, /SLIMLAB_TEST_API_KEY: '<hidden>'/);
      assert.doesNotMatch(all, /do-not-show/);
      assert.equal(await value("%env SLIMLAB_TEST_API_KEY"), "'do-not-show'");
      for (const k of ["SLIMLAB_TEST_A", "SLIMLAB_TEST_B", "SLIMLAB_TEST_API_KEY"]) delete process.env[k];
    });

    it("bad input: one line", async () => {
      await fails("%env SLIMLAB_NOT_SET_ANYWHERE", "SlimlabError", "%env: SLIMLAB_NOT_SET_ANYWHERE is not set");
      await fails("%env 9LIVES=x", "SlimlabError", '%env: "9LIVES" is not a variable name; write %env NAME=value');
      await usage("%env A B C", '%env: unexpected argument "C"; usage: %env [<name>] [<value>]');
    });
  });

  describe("%%writefile", () => {
    it("writes the cell below the line, overwrites, and appends with -a", async () => {
      assert.equal((await ok("%%writefile notes.txt\nline 1\n  line 2")).stdout, "Writing notes.txt\n");
      assert.equal(fs.readFileSync(path.join(tmp, "notes.txt"), "utf8"), "line 1\n  line 2");
      assert.equal((await ok("%%writefile -a notes.txt\n\nline 3")).stdout, "Appending to notes.txt\n");
      assert.equal(fs.readFileSync(path.join(tmp, "notes.txt"), "utf8"), "line 1\n  line 2\nline 3");
      assert.equal((await ok('%%writefile "sub dir/x.ts"\nexport const x = 1;')).stdout, "Writing sub dir/x.ts\n");
      assert.equal((await ok('%%writefile "sub dir/x.ts"\nexport const x = 2;')).stdout, "Overwriting sub dir/x.ts\n");
      assert.equal(fs.readFileSync(path.join(tmp, "sub dir", "x.ts"), "utf8"), "export const x = 2;");
    });

    it("bad input: one line", async () => {
      await usage("%%writefile\nbody", "%writefile: missing <file> (the file, relative to the working directory); usage: %%writefile <file> [--append]");
      await usage("%writefile f.txt", "%writefile is a cell magic; write %%writefile on the first line of the cell");
      await fails("%%writefile no/such/folder/f.txt\nx", "SlimlabError", /^%%writefile: no folder ".*no\/such\/folder"; create it first/);
      await fails('%%writefile "sub dir"\nx', "SlimlabError", /is a folder$/);
    });
  });

  describe("%who, %whos, %who_ls", () => {
    before(async () => {
      await ok(
        'import * as tf from "@tensorflow/tfjs";\nconst wt = tf.zeros([2, 3], "int32");\nconst wm = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), tf.layers.dense({ units: 2 })] });\nconst wn = 5;\nfunction wf(a: number, b: string) { return a }',
      );
    });

    it("%who lists the notebook's variables (not the kernel's $_, $Out, prompt), by type too", async () => {
      const names = (await ok("%who")).stdout.trim().split("\t");
      for (const n of ["wt", "wm", "wn", "wf", "tf"]) assert.ok(names.includes(n), `${n} in ${names}`);
      for (const n of ["$_", "$__", "$Out", "$In", "prompt", "$slimlab", "tsLastExpr"]) assert.ok(!names.includes(n), `${n} not listed`);
      assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
      assert.equal((await ok("%who Tensor LayersModel")).stdout, "wm\twt\n");
      assert.equal((await ok("%who NoSuchType")).stdout, "Interactive namespace is empty.\n");
    });

    it("%whos shows dtype and shape of tensors, parameters and layers of models", async () => {
      const table = (await ok("%whos Tensor Sequential number function")).stdout.split("\n");
      assert.match(table[0], /^Variable +Type +Data\/Info$/);
      assert.match(table[1], /^-+$/);
      const row = (n: string) => table.find((l) => l.startsWith(`${n} `)) ?? "";
      assert.match(row("wt"), /^wt +Tensor +int32 \[2,3\]$/);
      assert.match(row("wm"), /^wm +Sequential +26 params, 2 layers, input \[null,3\]$/);
      assert.match(row("wn"), /^wn +number +5$/);
      assert.match(row("wf"), /^wf +function +wf\(a, b\)$/);
    });

    it("%who_ls gives the names, typed string[]", async () => {
      assert.equal(await value("const tensors = %who_ls Tensor\ntensors.join()"), "'wt'");
    });

    it("bad input: one UsageError line", async () => {
      await usage("%who --all", "%who: unknown flag --all; allowed: none");
      await usage("%whos -x", "%whos: unknown flag -x; allowed: none");
    });
  });

  describe("%run", () => {
    before(() => {
      fs.writeFileSync(path.join(tmp, "setup.ts"), "export const base: number = 40;\nexport function twice(x: number): number {\n  return 2 * x;\n}\nconsole.log('setup ran');\n");
      fs.writeFileSync(path.join(tmp, "helpers.js"), "function add(a, b) { return a + b; }\nclass Box { constructor(v) { this.v = v; } }\n");
      fs.writeFileSync(path.join(tmp, "broken.ts"), "const fine = 1;\nconst wrong: number = 'no';\n");
      fs.writeFileSync(path.join(tmp, "throws.ts"), "const before = 1;\n\nthrow new Error('from the file');\n");
    });

    it("its declarations become notebook variables, usable on the next lines of the same cell", async () => {
      const r = await ok("const pre = 2;\n%run setup.ts\nconsole.log(twice(base) + pre)\nbase + pre");
      assert.equal(r.stdout, "setup ran\n82\n");
      assert.equal(r.out.result?.["text/plain"], "42");
      assert.equal(await value("twice(base)"), "80", "and in later cells");
    });

    it("runs JavaScript as tslab's JavaScript kernel would (constructors may set this.x)", async () => {
      assert.equal(await value("%run helpers.js\nadd(1, 2) + new Box(4).v"), "7");
    });

    it("an error in the file names the file and its line", async () => {
      await fails("%run broken.ts", "TypeScriptError", "broken.ts line 2, column 7: Type 'string' is not assignable to type 'number'. (TS2322)");
      const r = await run("%run throws.ts\nconsole.log('not reached')");
      assert.equal(r.out.error?.evalue, "from the file");
      assert.match(r.out.error?.traceback[1] ?? "", /\(throws\.ts line 3, column \d+\)$/);
      assert.equal(r.stdout, "");
    });

    it("bad input: one line, and nothing of the cell runs", async () => {
      await usage("console.log('x')\nif (true) {\n  %run setup.ts\n}", /^%run must stand alone on a line at the top level of a cell/);
      await usage("console.log('x'); %run setup.ts", /^%run must stand alone on a line/);
      await usage("console.log('x')\n%run", "%run: missing <file> (a .ts or .js file, relative to the working directory); usage: %run <file>");
      await usage("%run a.ts b.ts", '%run: unexpected argument "b.ts"; usage: %run <file>');
      await fails("%run nothere.ts", "SlimlabError", `%run: cannot read ${JSON.stringify(path.join(tmp, "nothere.ts"))}: no such file`);
      await fails("%run notes.txt", "SlimlabError", '%run: "notes.txt" is not a TypeScript or JavaScript file (.ts, .js, .mts, .mjs, .cts, .cjs)');
    });
  });

  describe("%load_plugin --reload", () => {
    const plugin = () => path.join(tmp, "greeter.js");
    const write = (magics: string) => fs.writeFileSync(plugin(), `module.exports = { magics: [${magics}] };\n`);
    const magic = (name: string, says: string) => `{ name: "${name}", summary: "says ${says}", positional: [], flags: {}, run: () => "${says}" }`;

    it("loads once; loading again is a note, and --reload reads the changed file", async () => {
      write(magic("greet", "v1") + "," + magic("old", "gone soon"));
      assert.equal(await value("%load_plugin greeter.js"), "loaded %greet, %old");
      assert.equal(await value("%greet"), "'v1'");
      write(magic("greet", "v2") + "," + magic("fresh", "new"));
      assert.equal(await value("%load_plugin greeter.js"), "%greet, %old already loaded from greeter.js; to read the file again: %load_plugin --reload greeter.js");
      assert.equal(await value("%greet"), "'v1'");
      assert.equal(await value("%load_plugin --reload greeter.js"), "reloaded %greet, %fresh");
      assert.equal(await value("%greet"), "'v2'");
      assert.equal(await value("%fresh"), "'new'");
      await usage("%old", /^unknown magic %old/);
    });

    it("a reload that fails keeps the magics loaded before", async () => {
      write(magic("greet", "v3") + "," + magic("lsmagic", "clash"));
      await fails("%load_plugin --reload greeter.js", "SlimlabError", /magic %lsmagic is already defined by builtin/);
      assert.equal(await value("%greet"), "'v2'");
    });

    it("bad input: one UsageError line", async () => {
      await usage("%load_plugin --relaod greeter.js", "%load_plugin: unknown flag --relaod (did you mean --reload?); allowed: --reload");
      await usage("%load_plugin", /^%load_plugin: missing <path>/);
    });
  });

  describe("completion of arguments", () => {
    it("folders for %cd, .ts/.js files for %run, names for %env, flags everywhere", () => {
      assert.deepEqual(complete("%cd su"), ['"sub dir/"', "subset/"], "a name with a space comes quoted");
      assert.deepEqual(complete("%run se"), ["setup.ts"]);
      assert.deepEqual(complete("%run "), ["broken.ts", "greeter.js", "helpers.js", "setup.ts", '"sub dir/"', "subset/", "throws.ts"]);
      assert.deepEqual(complete("%load_plugin gr"), ["greeter.js"]);
      assert.deepEqual(complete("%load_plugin --re"), ["--reload"]);
      assert.deepEqual(complete("%%writefile -"), ["--append"]);
      process.env.SLIMLAB_COMPLETE_ME = "1";
      assert.deepEqual(complete("%env SLIMLAB_COMPLETE"), ["SLIMLAB_COMPLETE_ME"]);
      delete process.env.SLIMLAB_COMPLETE_ME;
      assert.deepEqual(complete("%sys"), ["%system"]);
      assert.equal(complete("!ls se"), undefined, "a shell command is not completed as a magic");
    });
  });

  it("display.value shows a value as a cell's result would (a string quoted)", async () => {
    const displays: unknown[] = [];
    runner.setSink({ stream: (name, text) => void (sink[name] += text), display: (_t, c) => void displays.push(c.data) });
    try {
      await ok('import { display } from "slimlab";\ndisplay.value("s");\ndisplay.value([1]);');
    } finally {
      runner.setSink({ stream: (name, text) => void (sink[name] += text), display: () => undefined });
    }
    assert.deepEqual(displays, [{ "text/plain": "'s'" }, { "text/plain": "[ 1 ]" }]);
  });

  describe("$_, $__, $Out, $In", () => {
    it("hold earlier values, typed any; a $_ of the user's own is left alone", async () => {
      assert.equal(await value("'first'"), "'first'");
      assert.equal(await value("2 * 21"), "42");
      assert.equal(await value("[$_, $__].join()"), "'42,first'");
      assert.equal(await value("$_.toUpperCase()"), "'42,FIRST'");
      const out = await value("Object.keys($Out).length > 0 && Object.values($In).includes('2 * 21')");
      assert.equal(out, "true");
      await ok("$_ = 'mine';");
      assert.equal(await value("7"), "7");
      assert.equal(await value("$_"), "'mine'");
    });
  });
});
