/**
 * Reading the README's "Set up" section and `.ci/run` for
 * readme-setup.test.ts: the shell commands of the section's fenced `sh`
 * blocks, the Debian packages an install command names, what `.ci/run`
 * installs, and environment.yml as data (PyYAML when a python3 has it,
 * else a small reader for the subset that file uses).
 */
import { spawnSync } from "child_process";

/** One command of a fenced `sh` block: `a && b` gives two, each with the line's trailing comment. */
export interface SetupCommand {
  /** The command, trimmed, without its comment. */
  text: string;
  /** The line's `# ...` comment (without the `#`), or "". */
  comment: string;
  /** Which `sh` block of the section (0-based) and which line of it. */
  block: number;
  line: number;
}

/** The text of the `## heading` section of a markdown file (up to the next `## `), or undefined. */
export function section(markdown: string, heading: string): string | undefined {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The bodies of the fenced code blocks tagged `lang` in `text`, in order. */
export function fencedBlocks(text: string, lang: string): string[] {
  const found: string[] = [];
  const fence = /^```(\S*)[^\n]*\n([\s\S]*?)^```\s*$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) if (m[1] === lang) found.push(m[2]);
  return found;
}

/** Strips a trailing `# comment` that is not inside quotes or backticks. */
function splitComment(line: string): [string, string] {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return [line.slice(0, i), line.slice(i + 1).trim()];
  }
  return [line, ""];
}

/** The commands of the `sh` blocks of `text`, split at `&&`, comments kept apart. */
export function shellCommands(text: string): SetupCommand[] {
  const out: SetupCommand[] = [];
  fencedBlocks(text, "sh").forEach((body, block) => {
    body.split("\n").forEach((raw, line) => {
      const [code, comment] = splitComment(raw);
      for (const part of code.split("&&")) if (part.trim() !== "") out.push({ text: part.trim().replace(/\s+/g, " "), comment, block, line });
    });
  });
  return out;
}

/** The packages of an `apt-get install` / `apt install` command (with or without sudo), or undefined for other commands. */
export function aptInstallPackages(command: string): string[] | undefined {
  const m = /^(?:sudo\s+)?apt(?:-get)?\s+install\s+(.*)$/.exec(command.trim());
  if (!m) return undefined;
  return m[1].split(/\s+/).filter((w) => w !== "" && !w.startsWith("-"));
}

/** A package `.ci/run` installs, and the command whose presence makes it skip the install (`command -v node || apt-get install ...`). */
export interface CiPackage {
  name: string;
  unlessCommand?: string;
}

/** What `.ci/run` installs with apt-get, continuation lines joined, redirections and flags left out. */
export function ciAptPackages(script: string): CiPackage[] {
  const joined = script.replace(/\\\n/g, " ");
  const found: CiPackage[] = [];
  for (const raw of joined.split("\n")) {
    const line = splitComment(raw)[0];
    const at = line.search(/\bapt-get\s+install\b/);
    if (at < 0) continue;
    const guard = /command\s+-v\s+(\S+)\s*(?:>\s*\/dev\/null\s*)?(?:2>&1\s*)?\|\|\s*$/.exec(line.slice(0, at));
    const words = line.slice(at).replace(/^apt-get\s+install/, "").split(/[;&|]/)[0].split(/\s+/);
    for (const w of words) {
      if (w === "" || w.startsWith("-")) continue;
      if (w.startsWith(">") || w.startsWith("<") || /^\d?>/.test(w)) break;
      found.push(guard ? { name: w, unlessCommand: guard[1] } : { name: w });
    }
  }
  return found;
}

/** Whether `cmd args...` runs and exits 0. */
export function runs(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 120000 });
  return !r.error && r.status === 0;
}

/** A python3 that can `import yaml`: Debian's first (where .ci/run installs python3-yaml), then the one on PATH. */
export function pythonWithYaml(): string | undefined {
  return ["/usr/bin/python3", "python3"].find((py) => runs(py, ["-c", "import yaml"]));
}

/** environment.yml's content: PyYAML's safe_load through `python`, as JSON. Throws with PyYAML's message for invalid YAML. */
export function loadYamlWithPython(python: string, text: string): unknown {
  const script = "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin.read())))";
  const r = spawnSync(python, ["-c", script], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`environment.yml is not valid YAML: ${String(r.stderr).trim().split("\n").pop()}`);
  return JSON.parse(r.stdout);
}

/**
 * A reader for the YAML subset environment.yml uses: `key: scalar` and
 * `key:` followed by `  - scalar` items, `#` comments. Anything else
 * (nesting, tabs, flow style) is an error naming the line, so it cannot
 * accept what it does not understand.
 */
export function loadSimpleYaml(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let list: string[] | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = splitComment(raw)[0].trimEnd();
    if (line.trim() === "") return;
    const bad = () => new Error(`environment.yml line ${i + 1}: ${JSON.stringify(raw)} is not YAML this reader knows (key: value, key: then "  - item")`);
    if (/\t/.test(line) || /^[[{]/.test(line.trim())) throw bad();
    const item = /^\s+-\s+(\S.*)$/.exec(line);
    if (item) {
      if (!list) throw bad();
      list.push(item[1].trim());
      return;
    }
    const kv = /^([A-Za-z_][\w-]*):(?:\s+(\S.*))?$/.exec(line);
    if (!kv || kv[1] in out) throw bad();
    if (kv[2] === undefined) out[kv[1]] = list = [];
    else {
      out[kv[1]] = kv[2].trim();
      list = undefined;
    }
  });
  return out;
}

/** The `` `words` `` of a paragraph, in order. */
export function backticked(paragraph: string): string[] {
  return [...paragraph.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

/** The paragraph of `text` that starts with `start` (paragraphs are separated by blank lines), or undefined. */
export function paragraphStarting(text: string, start: string): string | undefined {
  return text.split(/\n\s*\n/).find((p) => p.trim().startsWith(start));
}
