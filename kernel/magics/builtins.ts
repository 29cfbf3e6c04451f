/**
 * The kernel's own magics: %lsmagic, %time / %%time, %timeit / %%timeit,
 * %load_plugin. Plugins' magics (%backend, %prune, ...) come from plugins/
 * through registerBuiltins in kernel/magics/index.ts.
 */
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
  run(): string {
    const rt = currentRuntime();
    if (!rt) return "no kernel running";
    const rows = rt.registry.entries();
    const width = Math.max(...rows.map((r) => r.spec.name.length)) + 4;
    const line = (r: (typeof rows)[number]) => {
      const forms = `${r.spec.line === false ? "" : "%"}${r.spec.cell ? (r.spec.line === false ? "%%" : "/%%") : ""}`;
      return `  ${(forms + r.spec.name).padEnd(width + 3)} ${r.spec.summary}${r.source === "builtin" ? "" : `  [${r.source}]`}`;
    };
    return ["Available magics (%name? for help):", ...rows.map(line)].join("\n");
  },
});

export const loadPluginMagic = defineMagic({
  name: "load_plugin",
  summary: "Loads a plugin file (.js or .ts exporting `magics`) and registers its magics.",
  positional: [{ name: "path", help: "path of the plugin module, relative to the notebook", text: true }],
  flags: {},
  examples: ['%load_plugin "./my-plugin.js"'],
  run([file]): string {
    const rt = currentRuntime();
    if (!rt) throw new Error("%load_plugin needs a running slimlab kernel");
    const names = rt.loadPlugin(String(file));
    return `loaded ${names.map((n) => `%${n}`).join(", ")}`;
  },
});

/** `%name?`: help text into the pager (or stdout outside a kernel). */
export function showHelp(spec: MagicSpec): void {
  const rt = currentRuntime();
  if (rt) rt.page(helpText(spec));
  else process.stdout.write(`${helpText(spec)}\n`);
}
