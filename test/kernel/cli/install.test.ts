/**
 * `slimlab install`: flag parsing, the kernelspec it writes, and a real
 * install into a temporary --prefix that `jupyter kernelspec list` then
 * finds. The last part needs the `jupyter` command (Debian's
 * jupyter-client); without it that test is skipped and says so.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isSlimlabError } from "../../../plugins/core/errors";
import { DISPLAY_NAME, install, kernelSpec, KERNEL_NAME, parseScope } from "../../../kernel/cli/install";

const ROOT = path.resolve(__dirname, "../../../..");

function hasJupyter(): boolean {
  const r = spawnSync("jupyter", ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

describe("kernel/cli/install", function () {
  this.timeout(60000);

  it("parseScope accepts one of --user, --sys-prefix, --prefix P, or nothing", () => {
    assert.deepEqual(parseScope([]), { kind: "default" });
    assert.deepEqual(parseScope(["--user"]), { kind: "user" });
    assert.deepEqual(parseScope(["--sys-prefix"]), { kind: "sys-prefix" });
    assert.deepEqual(parseScope(["--prefix", "/opt/j"]), { kind: "prefix", prefix: "/opt/j" });
  });

  for (const args of [["--prefix"], ["--user", "--sys-prefix"], ["--global"], ["--prefix", "a", "b"]]) {
    it(`parseScope rejects ${JSON.stringify(args)} with E_ARG naming what it got`, () => {
      assert.throws(
        () => parseScope(args),
        (e: unknown) => {
          assert.ok(isSlimlabError(e));
          assert.equal(e.code, "E_ARG");
          assert.equal(e.message, `slimlab install: got ${JSON.stringify(args.join(" "))}; allowed: --user, --sys-prefix or --prefix PATH (one of them)`);
          return true;
        },
      );
    });
  }

  it("the kernelspec runs this installation by absolute paths, with signal interrupts", () => {
    const spec = kernelSpec();
    const argv = spec.argv as string[];
    assert.equal(argv.length, 5);
    assert.ok(path.isAbsolute(argv[0]) && argv[0] === process.execPath, argv[0]);
    assert.equal(argv[1], "--no-force-async-hooks-checks");
    assert.ok(path.isAbsolute(argv[2]), argv[2]);
    assert.equal(argv[2], path.join(ROOT, "bin", "slimlab.js"));
    assert.ok(fs.existsSync(argv[2]));
    assert.deepEqual(argv.slice(3), ["kernel", "{connection_file}"]);
    assert.equal(spec.display_name, DISPLAY_NAME);
    assert.equal(spec.language, "typescript");
    assert.equal(spec.interrupt_mode, "message");
    assert.equal(KERNEL_NAME, "slimlab");
  });

  it("`slimlab install --bogus` exits with status 2 and the one-line message", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "slimlab.js"), "install", "--bogus"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").pop(), 'slimlab: slimlab install: got "--bogus"; allowed: --user, --sys-prefix or --prefix PATH (one of them)');
  });

  it("installs into a --prefix where `jupyter kernelspec list` finds it (needs jupyter)", function () {
    if (!hasJupyter()) {
      this.test!.title += " — SKIPPED: no `jupyter` command on PATH (apt-get install jupyter-client)";
      this.skip();
    }
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-prefix-"));
    try {
      const where = install({ kind: "prefix", prefix });
      const specDir = path.join(prefix, "share", "jupyter", "kernels", KERNEL_NAME);
      assert.equal(where, specDir);
      const written = JSON.parse(fs.readFileSync(path.join(specDir, "kernel.json"), "utf8"));
      assert.deepEqual(written, kernelSpec());
      const list = spawnSync("jupyter", ["kernelspec", "list", "--json"], {
        encoding: "utf8",
        env: { ...process.env, JUPYTER_PATH: path.join(prefix, "share", "jupyter") },
      });
      assert.equal(list.status, 0, list.stderr);
      const found = JSON.parse(list.stdout).kernelspecs[KERNEL_NAME];
      assert.ok(found, list.stdout);
      assert.equal(found.resource_dir, specDir);
      assert.deepEqual(found.spec.argv, kernelSpec().argv);
      assert.equal(found.spec.display_name, DISPLAY_NAME);
      // Installing again replaces the spec instead of failing.
      assert.equal(install({ kind: "prefix", prefix }), specDir);
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });
});
