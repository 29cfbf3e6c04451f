/**
 * The README's "Set up" commands, checked as far as a test can without root
 * or the network. The commands are read from the README itself (its fenced
 * `sh` blocks), so a changed command is checked as changed, and a command
 * no check here knows fails the test:
 *
 * - `apt-get install`: `.ci/run` installs every package named; each is in
 *   Debian's package index; in CI each is installed (dpkg), provided by an
 *   installed package, or skipped by `.ci/run` because its command exists;
 * - `npm install`: package.json's prepare script builds dist/, and `.ci/run`
 *   runs `npm ci` (which runs it);
 * - `npx slimlab install --user` runs, into a temporary HOME and
 *   JUPYTER_DATA_DIR, and `jupyter kernelspec list` then shows the
 *   kernelspec under the name and display name the README's comment gives;
 *   other install scopes the README uses are accepted by the parser;
 * - `jupyter notebook FILE`: FILE is a notebook and Debian's Notebook runs;
 * - `conda env create -f environment.yml && conda activate NAME`: the file
 *   is valid YAML, named NAME, with exactly the packages the README lists.
 *
 * Outside CI a part whose tool is missing is skipped and says so; with CI
 * set (as `.ci/run` sets it) every part must run.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseScope } from "../../kernel/cli/install";
import {
  aptInstallPackages, backticked, ciAptPackages, loadSimpleYaml, loadYamlWithPython, paragraphStarting, pythonWithYaml, runs, section, SetupCommand, shellCommands,
} from "./readme-setup";

const ROOT = path.resolve(__dirname, "../../..");
const IN_CI = process.env.CI !== undefined && !["", "0", "false"].includes(process.env.CI.toLowerCase());
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

/** Skips the running test outside CI, saying why; in CI the same reason fails it. */
function skipOutsideCi(ctx: Mocha.Context, why: string): never {
  if (IN_CI) throw new Error(`CI needs this check: ${why}`);
  ctx.test!.title += ` — SKIPPED: ${why}`;
  ctx.skip();
}

/** The forms of command this test knows how to check; a README command matching none fails the test. */
const KNOWN: readonly { form: RegExp; what: string }[] = [
  { form: /^(sudo )?apt(-get)? install /, what: "Debian packages" },
  { form: /^npm (install|ci)$/, what: "npm install" },
  { form: /^npx slimlab install( --user| --sys-prefix| --prefix \S+)?$/, what: "kernelspec install" },
  { form: /^jupyter notebook \S+\.ipynb$/, what: "classic Notebook" },
  { form: /^conda env create -f \S+$/, what: "conda environment" },
  { form: /^conda activate \S+$/, what: "conda environment" },
];

describe("docs: the README's setup reader (on made-up text)", () => {
  it("splits sh blocks into commands at && and keeps comments apart, ignoring other blocks", () => {
    const md = "## Set up\n\n```sh\nsudo apt-get install -y a b-c   # the # in a comment\nx && y # two\n\n```\n\n```ts\nnot(shell)\n```\n## Next\n```sh\nz\n```\n";
    const cmds = shellCommands(section(md, "Set up") ?? "");
    assert.deepEqual(cmds.map((c) => [c.text, c.comment, c.block, c.line]), [
      ["sudo apt-get install -y a b-c", "the # in a comment", 0, 0],
      ["x", "two", 0, 1],
      ["y", "two", 0, 1],
    ]);
    assert.deepEqual(aptInstallPackages(cmds[0].text), ["a", "b-c"]);
    assert.equal(aptInstallPackages("npm install"), undefined);
  });

  it("reads .ci/run's apt-get installs: continued lines, a `command -v` guard, redirections left out", () => {
    const script = "apt-get update -qq\ncommand -v node >/dev/null || apt-get install -y -qq nodejs npm >/dev/null\n# apt-get install commented\napt-get install -y a \\\n  b c >/dev/null\n";
    assert.deepEqual(ciAptPackages(script), [{ name: "nodejs", unlessCommand: "node" }, { name: "npm", unlessCommand: "node" }, { name: "a" }, { name: "b" }, { name: "c" }]);
  });

  it("the fallback YAML reader takes key: value and lists, and refuses what it does not know", () => {
    assert.deepEqual(loadSimpleYaml("# c\nname: x\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11  # why\n  - numpy\n"), { name: "x", channels: ["conda-forge"], dependencies: ["python=3.11", "numpy"] });
    assert.throws(() => loadSimpleYaml("a:\n  b: 1\n"), /line 2: "  b: 1" is not YAML this reader knows/);
    assert.throws(() => loadSimpleYaml("  - orphan\n"), /line 1/);
    assert.throws(() => loadSimpleYaml("a: 1\na: 2\n"), /line 2/);
  });
});

describe("README: the Set up commands work as written (checked against .ci/run, dpkg, Jupyter, environment.yml)", function () {
  this.timeout(180000);
  const setup = section(read("README.md"), "Set up");
  const commands: SetupCommand[] = setup === undefined ? [] : shellCommands(setup);
  const packages = [...new Set(commands.flatMap((c) => aptInstallPackages(c.text) ?? []))];
  const ci = read(".ci/run");

  it("has a Set up section whose sh blocks hold commands this test knows how to check", () => {
    assert.ok(setup !== undefined, 'README.md has no "## Set up" section');
    assert.ok(commands.length > 0, "the Set up section has no fenced sh block");
    const unknown = commands.filter((c) => !KNOWN.some((k) => k.form.test(c.text)));
    assert.deepEqual(unknown.map((c) => c.text), [], "README setup commands that test/docs/readme-setup.test.ts does not check; add a check for each");
    for (const what of new Set(KNOWN.map((k) => k.what))) assert.ok(commands.some((c) => KNOWN.some((k) => k.what === what && k.form.test(c.text))), `the Set up section no longer has a ${what} step; drop its check or restore the step`);
  });

  it(".ci/run installs every Debian package the README lists", () => {
    assert.ok(packages.length > 0, "the README lists no Debian package");
    // The issue names these two: without them Debian has no `jupyter notebook` and no `jupyter nbconvert`.
    for (const needed of ["jupyter-notebook", "jupyter-nbconvert"]) assert.ok(packages.includes(needed), `the README's apt-get install lacks ${needed}`);
    const installed = new Set(ciAptPackages(ci).map((p) => p.name));
    assert.deepEqual(packages.filter((p) => !installed.has(p)), [], ".ci/run does not install these packages the README lists");
  });

  it("every package the README lists is in Debian's package index (apt-cache show)", function () {
    if (!runs("apt-cache", ["--version"])) skipOutsideCi(this, "no apt-cache (not a Debian system)");
    // One call for all: apt-cache prints the ones it knows (and fails for the others).
    const r = spawnSync("apt-cache", ["show", "--no-all-versions", ...packages], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    const known = new Set([...r.stdout.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]));
    const missing = packages.filter((p) => !known.has(p));
    if (missing.length === packages.length) skipOutsideCi(this, "apt's package index is empty (run apt-get update)");
    assert.deepEqual(missing, [], "packages the README lists that Debian's index does not know");
  });

  it("every package the README lists is installed (dpkg), provided by one that is, or skipped by .ci/run because its command exists", function () {
    if (!runs("dpkg-query", ["--version"])) skipOutsideCi(this, "no dpkg-query (not a Debian system)");
    const r = spawnSync("dpkg-query", ["-W", "-f", "${Package}\t${Status}\t${Provides}\n"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr);
    const have = new Set<string>();
    for (const row of r.stdout.split("\n")) {
      const [name, status, provides] = row.split("\t");
      if (status !== "install ok installed") continue;
      have.add(name);
      for (const p of (provides ?? "").split(",")) if (p.trim()) have.add(p.trim().split(/\s/)[0]);
    }
    const guards = new Map(ciAptPackages(ci).filter((p) => p.unlessCommand).map((p) => [p.name, p.unlessCommand as string]));
    const absent = packages.filter((p) => !have.has(p) && !(guards.has(p) && runs("sh", ["-c", `command -v ${guards.get(p)}`])));
    if (absent.length > 0 && !IN_CI) skipOutsideCi(this, `not installed here: ${absent.join(", ")} (in CI, .ci/run installs them)`);
    assert.deepEqual(absent, [], "packages the README lists that are not installed after .ci/run's apt-get");
  });

  it("`npm install` builds dist/ (package.json's prepare script), and .ci/run runs `npm ci`, which runs it", () => {
    const npm = commands.find((c) => /^npm (install|ci)$/.test(c.text));
    assert.ok(npm, "no npm install in the Set up section");
    const pkg = JSON.parse(read("package.json"));
    if (/builds dist/.test(npm.comment)) assert.match(String(pkg.scripts?.prepare), /\btsc -p tsconfig\.json\b/, "the README says npm install builds dist/, but package.json's prepare script does not compile");
    assert.match(ci, /^npm ci\b/m, ".ci/run does not run npm ci");
  });

  it("`npx slimlab install --user`, into a temporary HOME and JUPYTER_DATA_DIR, registers the kernelspec the README names", function () {
    const cmd = commands.find((c) => /^npx slimlab install --user$/.test(c.text));
    assert.ok(cmd, "the Set up section has no `npx slimlab install --user`");
    const names = /kernelspec "([^"]+)" \("([^"]+)"\)/.exec(cmd.comment);
    assert.ok(names, `the comment of "${cmd.text}" no longer says which kernelspec it registers: ${JSON.stringify(cmd.comment)}`);
    if (!runs("jupyter", ["kernelspec", "--version"])) skipOutsideCi(this, "no `jupyter kernelspec` command (apt-get install jupyter-client)");
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-readme-home-"));
    const data = path.join(home, "jupyter-data");
    const env = { ...process.env, HOME: home, JUPYTER_DATA_DIR: data, JUPYTER_CONFIG_DIR: path.join(home, "jupyter-config"), npm_config_update_notifier: "false" };
    try {
      // --no: npx must find this checkout's own bin and never ask the registry.
      const [, ...args] = cmd.text.split(" ");
      const r = spawnSync("npx", ["--no", "--", ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 120000 });
      assert.equal(r.status, 0, `${cmd.text} failed: ${r.stderr}`);
      const list = spawnSync("jupyter", ["kernelspec", "list", "--json"], { env, encoding: "utf8" });
      assert.equal(list.status, 0, list.stderr);
      const found = JSON.parse(list.stdout).kernelspecs[names[1]];
      assert.ok(found, `jupyter kernelspec list has no "${names[1]}": ${list.stdout}`);
      assert.equal(found.resource_dir, path.join(data, "kernels", names[1]));
      assert.equal(found.spec.display_name, names[2]);
      assert.ok(fs.existsSync(found.spec.argv[2]), `the kernelspec starts ${found.spec.argv[2]}, which does not exist`);
      const plain = spawnSync("jupyter", ["kernelspec", "list"], { env, encoding: "utf8" });
      assert.match(plain.stdout, new RegExp(`^\\s*${names[1]}\\s+${data.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("every other `npx slimlab install` scope the README uses is one the CLI accepts", () => {
    const scopes = commands.filter((c) => /^npx slimlab install\b/.test(c.text)).map((c) => c.text.split(" ").slice(3));
    assert.ok(scopes.length >= 2, "the README installs the kernelspec for Debian and for conda");
    for (const s of scopes) assert.doesNotThrow(() => parseScope(s), `npx slimlab install ${s.join(" ")}`);
  });

  it("`jupyter notebook FILE`: FILE is a notebook of this repository and Debian's classic Notebook runs", function () {
    const cmd = commands.find((c) => /^jupyter notebook /.test(c.text));
    assert.ok(cmd, "no jupyter notebook command in the Set up section");
    const file = cmd.text.split(" ")[2];
    const nb = JSON.parse(read(file));
    assert.equal(nb.nbformat, 4, `${file} is not an nbformat 4 notebook`);
    if (!runs("jupyter-notebook", ["--version"])) skipOutsideCi(this, "no jupyter-notebook command (apt-get install jupyter-notebook)");
    const help = spawnSync("jupyter", ["notebook", "--help"], { encoding: "utf8" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Notebook/);
  });

  it("environment.yml is valid YAML, named as `conda activate` says, holding exactly the packages the README lists", () => {
    const create = commands.find((c) => /^conda env create -f /.test(c.text));
    const activate = commands.find((c) => /^conda activate /.test(c.text));
    assert.ok(create && activate, "the Set up section has no conda env create / conda activate");
    const file = create.text.split(" ").pop() as string;
    const text = read(file);
    const python = pythonWithYaml();
    if (!python && IN_CI) assert.fail("CI needs PyYAML to read environment.yml (.ci/run installs python3-yaml)");
    const env = (python ? loadYamlWithPython(python, text) : loadSimpleYaml(text)) as { name?: unknown; dependencies?: unknown };
    assert.equal(env.name, activate.text.split(" ").pop(), `${file}'s name is not the one conda activate uses`);
    assert.ok(Array.isArray(env.dependencies) && env.dependencies.every((d) => typeof d === "string"), `${file}: dependencies is not a list of package specs`);
    const prose = paragraphStarting(setup ?? "", "With conda,");
    assert.ok(prose, 'the Set up section has no paragraph "With conda, ..." saying what environment.yml holds');
    const listed = backticked(prose).filter((w) => w !== file);
    assert.deepEqual([...listed].sort(), [...(env.dependencies as string[])].sort(), `the README's list of ${file}'s packages and the file disagree`);
  });
});
