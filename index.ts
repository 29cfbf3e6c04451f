/**
 * The "slimlab" module: what a notebook cell (or a plain script) imports.
 *
 *   import { display, clearOutput, progress } from "slimlab";
 *
 * Inside the kernel, `import ... from "slimlab"` always resolves to the
 * running kernel's own copy (kernel/modules.ts). Magic lines expand to calls
 * of `runMagic` below, so `%name args` and the plugin's function run the
 * same code.
 */
import * as readline from "readline";
import { SlimlabError } from "./plugins/core/errors";
import { PlotlyFigure, plotlyBundle } from "./plugins/core/figure";
import { host, MimeBundle, Progress } from "./plugins/core/host";
import { CodeValue, invokeMagic, MagicOutput, MagicResult } from "./plugins/core/magic";
import { toMimeBundle } from "./kernel/display/format";
import { showHelp } from "./kernel/magics/builtins";
import { currentRuntime } from "./kernel/runtime";
import { BuiltinMagics } from "./kernel/magics/index";
import { NOT_SHOWN, resultBundle } from "./kernel/results";

export { SlimlabError, isSlimlabError } from "./plugins/core/errors";
export { defineMagic, invokeMagic, helpText, usage, fitsNumberRule, describeNumberRule } from "./plugins/core/magic";
export type { MagicSpec, FlagSpec, PositionalSpec, MagicContext, NumberRule, OutputSpec, CodeValue, MagicResult, MagicOutput } from "./plugins/core/magic";
export { Figure, plotlyBundle } from "./plugins/core/figure";
export type { PlotlyFigure } from "./plugins/core/figure";
export { histogram, range, binCenters } from "./plugins/core/histogram";
export type { Histogram } from "./plugins/core/histogram";
export type { Host, Progress, MimeBundle } from "./plugins/core/host";
export type { TimeitResult } from "./kernel/magics/builtins";
export * from "./plugins/measure/index";
export * from "./plugins/quantize/index";
export * from "./plugins/prune/index";
export * from "./plugins/distill/index";
export * from "./plugins/format/index";
export * from "./plugins/onnx/index";
export * from "./plugins/analyze/index";
export * from "./plugins/io/index";
export { loadMnist } from "./plugins/data/mnist";
export * as zoo from "./plugins/models/zoo";
export { train, evaluate } from "./plugins/toolkit/train";
export { cloneModel } from "./plugins/toolkit/clone";
export { saveModel, loadModel } from "./plugins/toolkit/io";
export { logitsModel } from "./plugins/toolkit/logits";
export { recordResults, describeRecord, describeMetric, readRecord, defaultResultsDir } from "./plugins/toolkit/results";
export type { ResultsInput, ResultsRecord, ResultMetric, ResultGoal, ResultsMode } from "./plugins/toolkit/results";
export { spread, verdict, meets, describeGoal, describeSpread, formatNumber } from "./plugins/toolkit/spread";
export type { Spread, Goal, Verdict, VerdictWord } from "./plugins/toolkit/spread";

type Builtins = BuiltinMagics;

function runtime(fn: string) {
  const rt = currentRuntime();
  if (!rt) throw new SlimlabError("E_PLUGIN", `${fn}: magics run inside the slimlab kernel; in a script, call the plugin's function instead`);
  return rt;
}

/** The value of the code closure among a magic's arguments (what `%time f()` gives). */
type CodeResult<A extends unknown[]> = Extract<A[number], (...args: never[]) => unknown> extends () => Promise<infer T> ? T : unknown;

/** The type of a magic line: with -o run's whole result, else the declared value (the code's, for CodeValue). */
export type LineResult<M, A extends unknown[], F> = F extends { output: true }
  ? MagicOutput<M>
  : MagicResult<M> extends CodeValue
  ? CodeResult<A>
  : MagicResult<M>;

/**
 * Runs magic `name` (what a magic line expands to). Built-in magics give
 * their declared result type (the whole result with `output: true`, i.e.
 * -o); magics of loaded plugins give `any`. `argNames` (for magics that
 * declare them) are the arguments as written, e.g. `["m", "p"]`.
 * @throws SlimlabError for an unknown magic or a bad argument
 */
export async function runMagic<K extends string, A extends unknown[], const F extends Record<string, unknown>>(
  name: K,
  args: [...A],
  flags: F,
  line?: string,
  cell?: string,
  argNames?: readonly (string | null)[],
): Promise<K extends keyof Builtins ? LineResult<Builtins[K], A, F> : any> {
  const spec = runtime("runMagic").registry.require(name);
  return invokeMagic(spec, args, flags, { line: line ?? `%${name}`, cell, argNames }) as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** `%name?` and `%name --help`: the magic's help, in the pager. */
export function magicHelp(name: string): void {
  showHelp(runtime("magicHelp").registry.require(name));
}

function dataFrameBundle(df: unknown): MimeBundle {
  const b = toMimeBundle(df);
  if (!("text/html" in b)) throw new SlimlabError("E_TYPE", `display.table: expected a danfo DataFrame or Series, got ${typeof df}`);
  return b;
}

/**
 * What a `display.*` call returns: `update` shows a new value in the same
 * output, in place (update_display_data with the display's id), e.g. a
 * figure redrawn as training goes. As a cell's last value it shows nothing.
 */
export interface DisplayHandle<T> {
  update(value: T): void;
}

/** A display function: shows `toBundle(value)` and returns its handle. */
function shows<T>(toBundle: (value: T) => MimeBundle): (value: T) => DisplayHandle<T> {
  return (value) => {
    const live = host().liveDisplay(toBundle(value));
    return { update: (next: T) => live.update(toBundle(next)), [NOT_SHOWN]: true } as DisplayHandle<T>;
  };
}

/**
 * Rich output in the running cell. Each call sends one display_data; `bundle`
 * sends several MIME types of the same thing (the frontend picks the best).
 * Each returns a handle whose `update` replaces that output in place.
 * @example display.markdown("**bold**"); const h = display.plotly({ data: [{ y: [1, 2] }] }); h.update({ data: [{ y: [2, 1] }] })
 */
export const display = {
  bundle: shows((b: MimeBundle) => b),
  text: shows((s: string) => ({ "text/plain": s })),
  html: shows((s: string) => ({ "text/html": s, "text/plain": s.replace(/<[^>]*>/g, "") })),
  markdown: shows((s: string) => ({ "text/markdown": s, "text/plain": s })),
  svg: shows((s: string) => ({ "image/svg+xml": s, "text/plain": "SVG image" })),
  png: shows((bytes: Uint8Array) => ({ "image/png": Buffer.from(bytes).toString("base64"), "text/plain": "PNG image" })),
  plotly: shows((fig: PlotlyFigure) => plotlyBundle(fig)),
  table: shows((df: unknown) => dataFrameBundle(df)),
  /** Any value, shown as a cell's last value would be. */
  value: shows((v: unknown) => resultBundle(v)),
};

/**
 * Asks the user for a line of text: in the kernel over Jupyter's stdin
 * channel (the frontend shows an input box), in a script on the terminal.
 * The notebook also has the global `await prompt("name?")`.
 * @param options `password: true` hides what is typed (in frontends that can)
 * @throws StdinNotImplementedError when the frontend takes no input (its request had allow_stdin: false)
 * @example const name = await input("name? ")
 */
export function input(promptText = "", options: { password?: boolean } = {}): Promise<string> {
  const rt = currentRuntime();
  if (rt) return rt.input(promptText, !!options.password);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) => rl.question(promptText, (answer) => (rl.close(), resolve(answer))));
}

/**
 * Clears the cell's output (clear_output). With `wait`, the clearing happens
 * when the next output arrives, which avoids flicker in animations.
 */
export function clearOutput(opts: { wait?: boolean } = {}): void {
  const rt = currentRuntime();
  if (rt) rt.clearOutput(!!opts.wait);
}

/**
 * A progress bar updated in place; end it with `end("done" | "interrupted" | "error")`.
 * @example const p = progress("epochs", 10); for (let i = 1; i <= 10; i++) p.update(i); p.end("done");
 */
export function progress(label: string, total: number): Progress {
  if (!(total > 0)) throw new SlimlabError("E_ARG", `progress: total must be a positive number, got ${total}`);
  return host().progress(label, total);
}

/** The abort signal of the running cell: true once the user pressed interrupt. */
export function interrupted(): boolean {
  return host().signal().aborted;
}

export { tableBundle, toDataFrame, htmlTable } from "./plugins/core/table";
