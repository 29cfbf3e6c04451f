/**
 * IPython's everyday magics for the shell and the file system: `!cmd` /
 * `%system`, `%sx`, `%%bash`, `%%sh`, `%cd`, `%pwd`, `%env`, `%%writefile`.
 * Relative paths start in the notebook's working directory (where `%cd`
 * went); commands run there too.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SlimlabError } from "../../plugins/core/errors";
import { defineMagic } from "../../plugins/core/magic";
import { currentRuntime, KernelRuntime } from "../runtime";
import { completePath } from "./builtins";
import { defaultShell, describeCommand, runShell } from "./subprocess";

function runtime(magic: string): KernelRuntime {
  const rt = currentRuntime();
  if (!rt) throw new SlimlabError("E_PLUGIN", `%${magic} needs a running slimlab kernel`);
  return rt;
}

/** `~` and `~/x` as the home folder, as a shell would. */
export function expandHome(p: string): string {
  return p === "~" ? os.homedir() : p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

const folders = (prefix: string) => completePath(prefix, () => false);

export const systemMagic = defineMagic({
  name: "system",
  summary: "Runs a shell command (bash) in the working directory, its output shown as it comes; `!cmd` is short for it. A non-zero exit is an error naming the code.",
  description: "The command is the rest of the line as written. {name} (a variable, or a path into one) is replaced by its value; {{name}} gives {name} itself; $VAR and ${VAR} are the shell's.",
  positional: [{ name: "command", help: "the shell command", raw: true }],
  flags: {},
  examples: ["!ls -l", "!pip --version", "!du -sh {folder}", "%system echo $HOME"],
  async run([command]): Promise<void> {
    await runShell({ shell: defaultShell(), script: String(command), what: describeCommand(String(command)) });
  },
});

export const sxMagic = defineMagic({
  name: "sx",
  summary: "Runs a shell command and gives its output as a list of lines (IPython's %sx); what it prints to stderr is shown.",
  positional: [{ name: "command", help: "the shell command", raw: true }],
  flags: {},
  examples: ["const files = %sx ls *.ts"],
  async run([command]): Promise<string[]> {
    const out = await runShell({ shell: defaultShell(), script: String(command), what: describeCommand(String(command)), capture: true });
    const lines = out.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return lines;
  },
});

function scriptMagic(name: "bash" | "sh", shell: () => string) {
  return defineMagic({
    name,
    summary: `Runs the cell as a ${name} script in the working directory, its output shown as it comes. A non-zero exit is an error naming the code.`,
    description: "The cell is passed as written: no {name} substitution (use !cmd for that).",
    positional: [],
    flags: {},
    cell: true,
    line: false,
    examples: [`%%${name}\necho "in $(pwd)"\nls | head -3`],
    async run(_args, _flags, ctx): Promise<void> {
      await runShell({ shell: shell(), script: ctx.cell ?? "", what: `(the %%${name} cell)` });
    },
  });
}

export const bashMagic = scriptMagic("bash", () => "bash");
export const shMagic = scriptMagic("sh", () => "sh");

/** The folder %cd came from, for `%cd -`. */
let previousDir: string | undefined;

export const cdMagic = defineMagic({
  name: "cd",
  summary: "Changes the working directory (of the notebook's files, commands and magics); prints the new one.",
  description:
    "Without a folder: the home folder; `%cd -`: the folder before the last %cd. Imports in cells are still resolved from the notebook's own folder, whose node_modules the kernel type-checks against.",
  positional: [{ name: "folder", help: "where to go: a path, ~, or -", text: true, optional: true, complete: folders }],
  flags: {},
  examples: ["%cd data", "%cd ..", "%cd -", "%cd"],
  run([folder]): void {
    const rt = runtime("cd");
    const from = rt.cwd();
    let target: string;
    if (folder === undefined) target = os.homedir();
    else if (folder === "-") {
      if (!previousDir) throw new SlimlabError("E_ARG", "%cd -: no earlier folder yet");
      target = previousDir;
    } else target = expandHome(String(folder));
    const now = rt.chdir(target);
    previousDir = from;
    process.stdout.write(`${now}\n`);
  },
});

export const pwdMagic = defineMagic({
  name: "pwd",
  summary: "Gives the working directory.",
  positional: [],
  flags: {},
  run(): string {
    return runtime("pwd").cwd();
  },
});

/** Variables whose values `%env` does not list (IPython hides them too). */
const SECRET = /KEY|TOKEN|SECRET|PASS(WORD)?|CREDENTIAL|AUTH/i;

const envNames = (prefix: string) => Object.keys(process.env).filter((k) => k.startsWith(prefix)).sort();

export const envMagic = defineMagic({
  name: "env",
  summary: "Lists environment variables, gives one (%env NAME), or sets one (%env NAME=value, %env NAME value) for the kernel and the commands it runs.",
  description: "The listing hides the values of names that look secret (…KEY, …TOKEN, …SECRET, …PASSWORD); %env NAME still gives the value.",
  positional: [
    { name: "name", help: "a variable, or NAME=value to set it", text: true, optional: true, complete: envNames },
    { name: "value", help: "the value to set", text: true, optional: true },
  ],
  flags: {},
  examples: ["%env", "%env HOME", "%env TF_CPP_MIN_LOG_LEVEL=2", "%env OUT {folder}"],
  run([name, value]): Record<string, string> | string | void {
    if (name === undefined) {
      const entries = Object.entries(process.env).sort(([a], [b]) => a.localeCompare(b));
      return Object.fromEntries(entries.map(([k, v]) => [k, SECRET.test(k) ? "<hidden>" : v ?? ""]));
    }
    const text = String(name);
    const eq = text.indexOf("=");
    const [key, val] = value !== undefined ? [text, String(value)] : eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : [text, undefined];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new SlimlabError("E_ARG", `%env: ${JSON.stringify(key)} is not a variable name; write %env NAME=value`);
    if (val === undefined) {
      const v = process.env[key];
      if (v === undefined) throw new SlimlabError("E_ARG", `%env: ${key} is not set`);
      return v;
    }
    process.env[key] = val;
    process.stdout.write(`env: ${key}=${val}\n`);
  },
});

export const writefileMagic = defineMagic({
  name: "writefile",
  summary: "Writes the cell (below the %%writefile line) to a file; -a appends to it.",
  positional: [{ name: "file", help: "the file, relative to the working directory", text: true, complete: (p) => completePath(p) }],
  flags: { append: { type: "boolean", short: "a", help: "append instead of replacing the file" } },
  cell: true,
  line: false,
  examples: ["%%writefile helpers.ts\nexport const twice = (x: number) => 2 * x;", "%%writefile -a log.txt\none more line"],
  run([file], { append }, ctx): void {
    const target = path.resolve(runtime("writefile").cwd(), expandHome(String(file)));
    const exists = fs.existsSync(target);
    if (exists && fs.statSync(target).isDirectory()) throw new SlimlabError("E_FILE", `%%writefile: ${JSON.stringify(target)} is a folder`);
    if (!fs.existsSync(path.dirname(target))) throw new SlimlabError("E_FILE", `%%writefile: no folder ${JSON.stringify(path.dirname(target))}; create it first (!mkdir -p ...)`);
    const body = ctx.cell ?? "";
    if (append) fs.appendFileSync(target, body);
    else fs.writeFileSync(target, body);
    process.stdout.write(`${append ? (exists ? "Appending to" : "Writing") : exists ? "Overwriting" : "Writing"} ${String(file)}\n`);
  },
});
