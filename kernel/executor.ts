/**
 * Runs one cell of TypeScript: type-check and convert with tslab's converter,
 * run the JavaScript in this process (so every cell shares one tfjs), and
 * hand back the last expression's value or a structured error.
 */
import Module from "module";
import * as path from "path";
import * as vm from "vm";
import { explainMemoryError } from "../plugins/backends/memory";
import { beginRun, CellScope, endRun, realTimers } from "./cell-scope";
import { Converter, Diagnostic, expandShorthandProperties } from "./tslab-adapter";
import { SourceMapper } from "./sourcemap";

export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** CPU and wall time of running the converted cell (not of type-checking it), for %%time. */
export interface RunTiming {
  cpu: NodeJS.CpuUsage;
  wall: number;
}

export type RunResult = ({ ok: true; value: unknown; hasValue: boolean } | { ok: false; error: CellError }) & { timing?: RunTiming };

/** Resolves `require` calls of cells; see kernel/modules.ts. */
export type CellRequire = (id: string, fromDir: string) => unknown;
/** Resolves a cell's `require.resolve`; see kernel/modules.ts. */
export type CellResolve = (id: string, fromDir: string) => string;

const INTERRUPTED = "KeyboardInterrupt";

/** What the executor is doing, for whoever has to interrupt it (watchdog.ts). */
export type ExecPhase = "idle" | "sync" | "async";

export class Executor {
  private prevDecl = "";
  /** Top-level declarations of all cells so far (tslab exports them from each cell). */
  readonly locals: Record<string, unknown> = {};
  private readonly exportsProxy: Record<string, unknown>;
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, Module>();
  private abort: ((e: Error) => void) | undefined;
  private interruptRequested = false;
  /** What an interrupted cell reports: KeyboardInterrupt unless the watchdog stopped it for memory. */
  private interruptReason: CellError | undefined;
  private cellCount = 0;
  /** The converter's names for a cell's last value (in `locals` while a cell runs; no notebook variables). */
  private readonly lastValueNames = new Set<string>();
  /**
   * Called whenever SIGINT broke into synchronous code: why, when it was not
   * the user (the kernel's watchdog, for memory).
   */
  stopCause: () => CellError | undefined = () => undefined;
  /**
   * Whether an interrupt was asked for this cell that has not reached the
   * executor yet (the kernel's watchdog records it at once; its message
   * may be read only after synchronous code, which it could not stop, began).
   */
  interruptPending: () => boolean = () => false;
  /** Told when a cell starts and stops running synchronously, and while its awaited part runs. */
  onPhase: (phase: ExecPhase) => void = () => undefined;

  /** tslab's JavaScript converter, made the first time a JavaScript file is run (it takes a second or so). */
  private jsConv: Converter | undefined;

  /**
   * @param jsConverter makes the converter for JavaScript sources (`%run file.js`)
   */
  constructor(
    private readonly conv: Converter,
    private readonly cwd: string,
    private readonly resolve: CellRequire,
    private readonly resolveFile: CellResolve,
    private readonly jsConverter?: () => Converter,
  ) {
    const locals = this.locals;
    // TypeScript emits `Object.defineProperty(exports, ...)` for re-exported
    // imports; store them as plain values so later cells may reassign them.
    this.exportsProxy = new Proxy(locals, {
      defineProperty(_t, prop, attrs) {
        if (prop !== "__esModule") (locals as Record<string | symbol, unknown>)[prop] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
  }

  /**
   * Ends the running cell with KeyboardInterrupt. Its awaited part gets
   * `graceMs` to stop by itself (at a batch boundary), then is abandoned;
   * either way the cell's outcome is the interrupt, never `ok`. Variables
   * keep the values they had.
   */
  interrupt(graceMs = 0, reason?: CellError): void {
    this.interruptRequested = true;
    if (reason) this.interruptReason = reason;
    const abort = this.abort;
    if (!abort) return;
    const err = Object.assign(new Error("interrupted by the user"), { name: INTERRUPTED });
    if (graceMs <= 0) abort(err);
    else realTimers.setTimeout(() => this.abort === abort && abort(err), graceMs).unref();
  }

  /** Stops the converter's file watchers, which otherwise keep the process alive. */
  close(): void {
    this.conv.close();
    this.jsConv?.close();
  }

  /**
   * Adds declarations (`declare let x: any;`) that cells see as if an
   * earlier cell had made them; their values go in `locals`.
   */
  declare(decl: string): void {
    this.prevDecl = decl + this.prevDecl;
  }

  /** The notebook's variables: `locals` without the converter's own slots. */
  variables(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.locals).filter(([k]) => !this.lastValueNames.has(k)));
  }

  /** Type-checks `src` against earlier cells without running it. */
  diagnostics(src: string): Diagnostic[] {
    return this.conv.convert(this.prevDecl, src).diagnostics;
  }

  complete(src: string, pos: number) {
    return this.conv.complete(this.prevDecl, src, pos);
  }

  inspect(src: string, pos: number) {
    return this.conv.inspect(this.prevDecl, src, pos);
  }

  /**
   * Runs one cell as code of `scope` (timers and promises it makes belong to that cell).
   *
   * @param label what errors call the code: "cell" (its lines are "cell line 3"), or a file's name for `%run`
   * @param language "js" for JavaScript (`%run file.js`), converted as tslab's JavaScript kernel does
   */
  async run(src: string, scope: CellScope = new CellScope(0), label = "cell", language: "ts" | "js" = "ts"): Promise<RunResult> {
    const conv = language === "js" && this.jsConverter ? (this.jsConv ??= this.jsConverter()) : this.conv;
    const converted = conv.convert(this.prevDecl, expandShorthandProperties(src));
    for (const out of converted.sideOutputs ?? []) {
      this.sideModules.delete(out.path);
      this.sideOutputs.set(out.path, out.data);
    }
    if (converted.diagnostics.length > 0) return { ok: false, error: compileError(converted.diagnostics, label) };
    if (converted.lastExpressionVar) this.lastValueNames.add(converted.lastExpressionVar);
    if (!converted.output) {
      this.prevDecl = converted.declOutput ?? "";
      return { ok: true, value: undefined, hasValue: false };
    }
    const filename = `cell${++this.cellCount}.js`;
    const output = converted.output;
    // Decoding the source maps costs time on every cell; only errors need them.
    const mapper = () => SourceMapper.fromOutput(output);
    const wrapped = `(${converted.hasToplevelAwait ? "async " : ""}function (exports, require) { ${converted.output}\n})(__slimlab_cell__.exports, __slimlab_cell__.require)`;
    (globalThis as Record<string, unknown>).__slimlab_cell__ = { exports: this.exportsProxy, require: this.requireFor(this.cwd) };
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const timing = (): RunTiming => ({ cpu: process.cpuUsage(cpu0), wall: Number(process.hrtime.bigint() - t0) / 1e9 });
    this.interruptRequested = false;
    this.interruptReason = undefined;
    // Start the cell from a macrotask of Node's own: its promise chain then
    // runs in a callback scope Node can unwind if the watchdog has to
    // terminate it (one opened by a native addon such as zeromq's aborts
    // the process when terminated).
    await new Promise((r) => realTimers.setImmediate(r));
    // An interrupt read while the cell was type-checked: synchronous code would never look at the flag.
    if (this.interruptRequested || scope.cancelled) {
      this.interruptRequested = false;
      return { ok: false, error: this.interruptReason ?? interruptedError(), timing: timing() };
    }
    beginRun(scope);
    try {
      this.onPhase("sync");
      // Asked for while the cell was type-checked: its synchronous code would never look.
      // (Checked after the phase is set, so a request after this check is sent SIGINT.)
      if (this.interruptRequested || scope.cancelled || this.interruptPending()) {
        throw Object.assign(new Error("interrupted by the user"), { name: INTERRUPTED });
      }
      const ret = vm.runInThisContext(wrapped, { filename, breakOnSigint: true });
      if (converted.hasToplevelAwait) {
        this.onPhase("async");
        // If the cell is abandoned, its own late failure is not news.
        (ret as Promise<unknown>).catch(() => undefined);
        const abandoned = new Promise<never>((_, reject) => (this.abort = reject));
        if (this.interruptRequested) this.interrupt();
        await Promise.race([ret, abandoned]);
      }
      if (this.interruptRequested) throw Object.assign(new Error("interrupted by the user"), { name: INTERRUPTED });
    } catch (e) {
      // Declarations made before the failure are kept, as in IPython.
      this.prevDecl = converted.declOutput ?? this.prevDecl;
      // The last expression's slot (set to undefined first thing) is no notebook variable.
      if (converted.lastExpressionVar) delete this.locals[converted.lastExpressionVar];
      const cause = isSigintBreak(e) ? this.stopCause() : undefined;
      if (this.interruptRequested) return { ok: false, error: this.interruptReason ?? cause ?? interruptedError(), timing: timing() };
      if (cause) return { ok: false, error: cause, timing: timing() };
      return { ok: false, error: runtimeError(e, filename, mapper, label), timing: timing() };
    } finally {
      this.abort = undefined;
      endRun(scope);
      this.onPhase("idle");
    }
    const took = timing();
    this.prevDecl = converted.declOutput ?? "";
    const key = converted.lastExpressionVar;
    if (key && key in this.locals) {
      const value = this.locals[key];
      delete this.locals[key];
      return { ok: true, value, hasValue: value !== undefined, timing: took };
    }
    return { ok: true, value: undefined, hasValue: false, timing: took };
  }

  /** `require` for code in `dir`: the user's .ts files converted alongside cells, then modules.ts's rules. */
  private requireFor(dir: string): NodeJS.Require {
    const req = (id: string) => {
      if (id.startsWith(".") || path.isAbsolute(id)) {
        let file = path.resolve(dir, id);
        if (path.extname(file) === "") file += ".js";
        const side = this.sideOutput(file);
        if (side) return side.exports;
      }
      return this.resolve(id, dir);
    };
    // `require.resolve` in a cell answers by the same rules as `require`.
    return Object.assign(req, { resolve: (id: string) => this.resolveFile(id, dir) }) as unknown as NodeJS.Require;
  }

  private sideOutput(file: string): Module | undefined {
    const cached = this.sideModules.get(file);
    if (cached) return cached;
    const code = this.sideOutputs.get(file);
    if (code === undefined) return undefined;
    const mod = new Module(file);
    mod.filename = file;
    this.sideModules.set(file, mod);
    const req = this.requireFor(path.dirname(file));
    vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename: file })(
      mod.exports,
      req,
      mod,
      file,
      path.dirname(file),
    );
    return mod;
  }
}

function compileError(diags: Diagnostic[], label: string): CellError {
  const where = (d: Diagnostic) => (d.fileName ? `${d.fileName} ` : label === "cell" ? "" : `${label} `);
  const lines = diags.map((d) => `${where(d)}line ${d.start.line + 1}, column ${d.start.character + 1}: ${d.messageText} (TS${d.code})`);
  return { ename: "TypeScriptError", evalue: lines[0], traceback: lines };
}

function runtimeError(e: unknown, filename: string, mapperOf: () => SourceMapper | undefined, label: string): CellError {
  if (!(e instanceof Error)) return { ename: "Error", evalue: String(e), traceback: [`Uncaught ${String(e)}`] };
  if (isSigintBreak(e)) return interruptedError();
  if (e.name === INTERRUPTED) return interruptedError();
  if (e.name === "SlimlabError" && (e as { code?: string }).code === "E_INTERRUPTED") return interruptedError();
  const memory = explainMemoryError(e);
  if (memory) return memoryError(memory);
  // A slimlab usage error is the user's to fix, not a bug: one line, no stack.
  if (e.name === "SlimlabError") {
    const code = (e as { code?: string }).code;
    return { ename: "SlimlabError", evalue: e.message, traceback: [`SlimlabError [${code}]: ${e.message}`] };
  }
  // Only the "at ..." lines: V8 may put the failing source line above the message.
  const frames = (e.stack ?? "").split("\n").map((f) => f.trim()).filter((f) => f.startsWith("at "));
  const inCell = new RegExp(`^at (?:(.*) \\()?${filename.replace(".", "\\.")}:(\\d+):(\\d+)\\)?$`);
  const ours: string[] = [];
  const mapper = frames.some((f) => inCell.test(f)) ? mapperOf() : undefined;
  for (const f of frames) {
    const m = inCell.exec(f);
    if (m) {
      const at = mapper?.original(Number(m[2]) - 1, Number(m[3]) - 1);
      if (at) ours.push(`    at ${m[1] ? `${m[1]} ` : ""}(${label} line ${at.line + 1}, column ${at.column + 1})`);
    } else if (ours.length === 0 && !/node:internal|kernel\/executor/.test(f)) {
      // Frames inside libraries the cell called: keep the innermost few.
      ours.push(`    ${f}`);
    }
  }
  return { ename: e.name, evalue: e.message, traceback: [`${e.name}: ${e.message}`, ...ours.slice(0, 12)] };
}

/**
 * SIGINT during a synchronous run (vm's breakOnSigint): Node >= 12 throws
 * ERR_SCRIPT_EXECUTION_INTERRUPTED ("Script execution was interrupted by `SIGINT`").
 */
function isSigintBreak(e: unknown): boolean {
  return e instanceof Error && ((e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || e.message === "Script execution interrupted.");
}

/** A cell that ran out of memory, in Python's name for it. */
export function memoryError(text: string): CellError {
  return { ename: "MemoryError", evalue: text, traceback: [`MemoryError: ${text}`] };
}

/** What an interrupted cell reports. */
export function interruptedError(): CellError {
  return { ename: INTERRUPTED, evalue: "interrupted by the user; variables keep the values they had", traceback: ["KeyboardInterrupt: interrupted by the user; variables keep the values they had"] };
}

/**
 * Lines describing an error that surfaced after its cell returned (a throw
 * in a timer, a rejected promise nobody awaited): the message and the
 * innermost frames outside Node's internals.
 */
export function describeLateError(e: unknown): string[] {
  if (!(e instanceof Error)) return [`${typeof e === "object" && e !== null ? "Error" : typeof e}: ${String(e)}`];
  const frames = (e.stack ?? "")
    .split("\n")
    .map((f) => f.trim())
    .filter((f) => f.startsWith("at ") && !/node:internal|kernel\/(executor|guard|cell-scope)/.test(f));
  return [`${e.name}: ${e.message}`, ...frames.slice(0, 8).map((f) => `    ${f}`)];
}
