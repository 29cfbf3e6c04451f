/**
 * The kernel's own magics: %lsmagic, %time / %%time, %timeit / %%timeit,
 * %load_plugin. Plugins' magics (%backend, %prune, ...) come from plugins/
 * through registerBuiltins in kernel/magics/index.ts.
 */
import * as fs from "fs";
import * as path from "path";
import { inspect } from "util";
import { MimeBundle } from "../../plugins/core/host";
import { CodeValue, defineMagic, helpText, MagicSpec } from "../../plugins/core/magic";
import { formatCpuWall, formatTime } from "./timefmt";
import { currentRuntime } from "../runtime";

/** What `%timeit -o` returns (IPython's TimeitResult, in seconds). */
export interface TimeitResult {
  loops: number;
  repeat: number;
  average: number;
  stdev: number;
  best: number;
  worst: number;
  /** Seconds per loop of each run. */
  timings: number[];
}

/**
 * Text a magic gives to be read, not used as a string: it shows as written
 * (a string value would show quoted), as IPython's %lsmagic object does.
 */
export class MagicText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.text };
  }
  [inspect.custom](): string {
    return this.text;
  }
}

async function timeLoops(fn: () => Promise<unknown>, loops: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** IPython's timeit line: "1.2 ms ± 3.4 µs per loop (mean ± std. dev. of 7 runs, 100 loops each)". */
export function formatTimeit(r: TimeitResult): string {
  // Thousands separators as IPython's "{loops:,}": "1,000,000 loops each".
  const s = (n: number, w: string) => `${n.toLocaleString("en-US")} ${w}${n === 1 ? "" : "s"}`;
  return `${formatTime(r.average)} ± ${formatTime(r.stdev)} per loop (mean ± std. dev. of ${s(r.repeat, "run")}, ${s(r.loops, "loop")} each)`;
}

export const timeit = defineMagic({
  name: "timeit",
  summary: "Times code over repeated runs: mean ± std. dev. per loop, as IPython's %timeit.",
  description: "Without -n, the loop count grows 1, 10, 100, ... until one run takes at least 0.2 s. The code runs in a closure: names it declares do not persist.",
  positional: [{ name: "code", help: "the TypeScript to time", code: true }],
  flags: {
    n: { type: "number", integer: true, min: 1, help: "loops per run", short: "n" },
    r: { type: "number", integer: true, min: 1, default: 7, help: "runs", short: "r" },
    quiet: { type: "boolean", help: "print nothing", short: "q" },
  },
  cell: true,
  examples: ["%timeit model.predict(x).dispose()", "%timeit -n 10 -r 3 await f()"],
  async run([code], flags): Promise<TimeitResult> {
    const fn = code as () => Promise<unknown>;
    let loops = flags.n ?? 0;
    if (!loops) {
      for (loops = 1; ; loops *= 10) {
        if ((await timeLoops(fn, loops)) >= 0.2 || loops >= 1e8) break;
      }
    }
    const repeat = flags.r ?? 7;
    const timings: number[] = [];
    for (let i = 0; i < repeat; i++) timings.push((await timeLoops(fn, loops)) / loops);
    const average = timings.reduce((a, b) => a + b, 0) / repeat;
    const stdev = Math.sqrt(timings.reduce((a, t) => a + (t - average) ** 2, 0) / repeat);
    const result: TimeitResult = { loops, repeat, average, stdev, best: Math.min(...timings), worst: Math.max(...timings), timings };
    if (!flags.quiet) process.stdout.write(`${formatTimeit(result)}\n`);
    return result;
  },
  output: { help: "return the TimeitResult", value: (): undefined => undefined },
});

export const time = defineMagic({
  name: "time",
  summary: "Runs code once, prints CPU and wall time and gives the code's value, as IPython's %time. %%time times a whole cell, whose declarations persist.",
  description: "The value is the code's last expression (awaited if a promise): `const h = %time await model.fit(xs, ys)` keeps the history.",
  positional: [{ name: "code", help: "the TypeScript to time", code: true, returnsValue: true }],
  flags: {},
  cell: true,
  examples: ["const h = %time await model.fit(xs, ys)", "%%time (first line of a cell)"],
  async run([code]): Promise<CodeValue> {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    try {
      return (await (code as () => Promise<unknown>)()) as CodeValue;
    } finally {
      process.stdout.write(formatCpuWall(process.cpuUsage(cpu0), Number(process.hrtime.bigint() - t0) / 1e9));
    }
  },
});

export const lsmagic = defineMagic({
  name: "lsmagic",
  summary: "Lists the available magics.",
  positional: [],
  flags: {},
  run(): MagicText {
    const rt = currentRuntime();
    if (!rt) return new MagicText("no kernel running");
    const rows = rt.registry.entries();
    const width = Math.max(...rows.map((r) => r.spec.name.length)) + 4;
    const line = (r: (typeof rows)[number]) => {
      const forms = `${r.spec.line === false ? "" : "%"}${r.spec.cell ? (r.spec.line === false ? "%%" : "/%%") : ""}`;
      return `  ${(forms + r.spec.name).padEnd(width + 3)} ${r.spec.summary}${r.source === "builtin" ? "" : `  [${r.source}]`}`;
    };
    const shell = rt.registry.get("system") ? ["", "!cmd runs a shell command (%system cmd)."] : [];
    return new MagicText(["Available magics (%name? for help):", ...rows.map(line), ...shell].join("\n"));
  },
});

/** Files and folders under `prefix`'s folder whose names start as it does (folders end with "/"), for completing paths. */
export function completePath(prefix: string, keep: (name: string) => boolean = () => true): string[] {
  const rt = currentRuntime();
  const base = rt?.cwd() ?? process.cwd();
  const slash = prefix.lastIndexOf("/");
  const dirPart = prefix.slice(0, slash + 1);
  const namePart = prefix.slice(slash + 1);
  try {
    return fs
      .readdirSync(path.resolve(base, dirPart || "."), { withFileTypes: true })
      .filter((d) => d.name.startsWith(namePart) && (namePart.startsWith(".") || !d.name.startsWith(".")))
      .filter((d) => d.isDirectory() || keep(d.name))
      .map((d) => `${dirPart}${d.name}${d.isDirectory() ? "/" : ""}`)
      .sort()
      .map((p) => (/[\s'"{}$;]/.test(p) ? JSON.stringify(p) : p)); // a word of a magic line: quote what would split it
  } catch {
    return [];
  }
}

export const loadPluginMagic = defineMagic({
  name: "load_plugin",
  summary: "Loads a plugin file (.js or .ts exporting `magics`) and registers its magics; --reload reads a changed plugin again.",
  description:
    "A plugin loaded before is not loaded twice (as IPython's %load_ext); --reload reads the file afresh and its magics replace the ones it registered before (one it no longer exports is gone).",
  positional: [{ name: "path", help: "path of the plugin module, relative to the working directory", text: true, complete: (p) => completePath(p, (n) => /\.(js|ts|cjs)$/.test(n)) }],
  flags: { reload: { type: "boolean", help: "read the file again and replace its magics" } },
  examples: ['%load_plugin "./my-plugin.js"', "%load_plugin --reload ./my-plugin.ts"],
  run([file], { reload }): MagicText {
    const rt = currentRuntime();
    if (!rt) throw new Error("%load_plugin needs a running slimlab kernel");
    const r = rt.loadPlugin(String(file), !!reload);
    const names = r.names.map((n) => `%${n}`).join(", ");
    if (r.already) return new MagicText(`${names} already loaded from ${String(file)}; to read the file again: %load_plugin --reload ${String(file)}`);
    return new MagicText(`${reload ? "reloaded" : "loaded"} ${names}`);
  },
});

/** `%name?`: help text into the pager (or stdout outside a kernel). */
export function showHelp(spec: MagicSpec): void {
  const rt = currentRuntime();
  if (rt) rt.page(helpText(spec));
  else process.stdout.write(`${helpText(spec)}\n`);
}
