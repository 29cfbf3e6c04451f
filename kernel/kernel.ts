/**
 * The slimlab kernel: answers Jupyter requests (messaging spec 5.3) by
 * expanding magics, running cells through the executor and publishing what
 * they print and show. Every failure of a cell is an `error` message and an
 * error reply; nothing a cell does stops the kernel.
 */
import * as fs from "fs";
import * as path from "path";
import { isSlimlabError } from "../plugins/core/errors";
import { helpText } from "../plugins/core/magic";
import { setHost } from "../plugins/core/host";
import { KernelHost } from "./display/kernel-host";
import { toMimeBundle } from "./display/format";
import { CellError, Executor } from "./executor";
import { History, HistoryQuery } from "./history";
import { completeMagic } from "./magics/complete";
import { codeLineStarts } from "./magics/lines";
import { expandCell, Expansion, isMagicLine } from "./magics/expand";
import { MagicRegistry } from "./magics/registry";
import { loadPlugin } from "./magics/plugins";
import { createModuleResolver, packageRoot } from "./modules";
import { formatCpuWall } from "./magics/timefmt";
import { installRuntime } from "./runtime";
import { Channel, logInternal, Server } from "./server";
import { createConverter, isCompleteCode, TSLAB_VERSION, TYPESCRIPT_VERSION } from "./tslab-adapter";
import { Message, PROTOCOL_VERSION } from "./wire";

/** How long an interrupted cell gets to stop by itself (at a batch boundary) before its await is abandoned. */
const INTERRUPT_GRACE_MS = 1500;

export interface CellOutcome {
  ok: boolean;
  error?: CellError;
  /** The execute_result bundle, if the cell's last expression had a value. */
  result?: Record<string, unknown>;
  /** Pager payloads (from `%name?`). */
  pages: string[];
}

/** Sinks for what a running cell emits; the Jupyter server and the headless runner supply their own. */
export interface OutputSink {
  stream(name: "stdout" | "stderr", text: string): void;
  display(msgType: "display_data" | "update_display_data" | "clear_output", content: Record<string, unknown>): void;
}

/**
 * The protocol-free core: runs cells with magics. kernel.ts's Kernel wraps it
 * for ZMQ; kernel/runner.ts uses it directly for headless notebook runs.
 */
export class CellRunner {
  readonly registry = new MagicRegistry();
  readonly executor: Executor;
  readonly host: KernelHost;
  private sink: OutputSink;
  private pages: string[] = [];
  private running = false;
  /** Counts runs, so a late interrupt timer cannot hit a cell started after it. */
  private runs = 0;

  constructor(cwd: string, sink: OutputSink, registerBuiltins: (r: MagicRegistry) => void) {
    this.sink = sink;
    const modules = createModuleResolver(cwd);
    this.executor = new Executor(createConverter(modules.map), cwd, modules.require);
    this.host = new KernelHost((type, content) => this.sink.display(type, content));
    setHost(this.host);
    registerBuiltins(this.registry);
    installRuntime({
      registry: this.registry,
      page: (text) => this.pages.push(text),
      clearOutput: (wait) => this.host.clearOutput(wait),
      loadPlugin: (file) => loadPlugin(this.registry, path.resolve(cwd, file)),
    });
    captureOutput((name, text) => this.sink.stream(name, text));
  }

  setSink(sink: OutputSink): void {
    this.sink = sink;
  }

  get busy(): boolean {
    return this.running;
  }

  /** Expands magics; a bad magic line throws a SlimlabError. */
  expand(code: string): Expansion {
    return expandCell(code, this.registry);
  }

  async run(code: string): Promise<CellOutcome> {
    this.pages = [];
    this.host.newCell();
    this.running = true;
    this.runs++;
    try {
      let expansion: Expansion;
      try {
        expansion = this.expand(code);
      } catch (e) {
        return { ok: false, error: usageError(e), pages: [] };
      }
      const res = await this.executor.run(expansion.code);
      if (expansion.timeCell && res.timing) this.sink.stream("stdout", formatCpuWall(res.timing.cpu, res.timing.wall));
      if (!res.ok) return { ok: false, error: shiftColumns(res.error, expansion.firstLineShift), pages: this.pages };
      return { ok: true, result: res.hasValue ? toMimeBundle(res.value) : undefined, pages: this.pages };
    } catch (e) {
      // A bug in slimlab, not in the cell: still report it in the cell, and keep going.
      logInternal(e);
      return { ok: false, error: { ename: "InternalError", evalue: String(e), traceback: [String((e as Error).stack ?? e)] }, pages: this.pages };
    } finally {
      this.running = false;
    }
  }

  /** Releases what keeps the process alive (the type checker's file watchers); the runner is unusable after. */
  close(): void {
    this.executor.close();
  }

  /** Interrupts the running cell: first asks it to stop (signal), then abandons its await. */
  interrupt(): void {
    if (!this.running) return;
    this.host.interrupt();
    // Only the cell that was interrupted: if it stopped by itself and the
    // next one started within the grace time, that one must run on.
    const run = this.runs;
    const timer = setTimeout(() => this.running && this.runs === run && this.executor.interrupt(), INTERRUPT_GRACE_MS);
    timer.unref();
  }
}

function usageError(e: unknown): CellError {
  if (isSlimlabError(e)) return { ename: "UsageError", evalue: e.message, traceback: [`UsageError: ${e.message}`] };
  throw e;
}

/** Type errors on line 1 count columns of the expanded line; shift them back to the user's. */
function shiftColumns(err: CellError, shift: number): CellError {
  if (!shift) return err;
  const fix = (s: string) => s.replace(/^line 1, column (\d+)/, (_m, c) => `line 1, column ${Math.max(1, Number(c) - shift)}`);
  return { ...err, evalue: fix(err.evalue), traceback: err.traceback.map(fix) };
}

/** Sends what cells write to stdout/stderr to `emit`, without losing the kernel's own log. */
function captureOutput(emit: (name: "stdout" | "stderr", text: string) => void): void {
  for (const name of ["stdout", "stderr"] as const) {
    const stream = process[name];
    stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof enc === "string" ? (enc as BufferEncoding) : "utf8");
      emit(name, text);
      const done = typeof enc === "function" ? enc : cb;
      if (typeof done === "function") (done as () => void)();
      return true;
    }) as typeof stream.write;
  }
}

export function kernelVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version;
}

/** The Jupyter face of CellRunner. */
export class Kernel {
  private count = 0;
  private readonly history = new History();
  private parent: Message | undefined;
  private readonly runner: CellRunner;

  constructor(private readonly server: Server, cwd: string, registerBuiltins: (r: MagicRegistry) => void) {
    this.runner = new CellRunner(
      cwd,
      {
        stream: (name, text) => void this.server.publish("stream", { name, text }, this.parent),
        display: (type, content) => void this.server.publish(type, content, this.parent),
      },
      registerBuiltins,
    );
  }

  start(): void {
    void this.server.publish("status", { execution_state: "starting" }, undefined);
    this.server.serve((msg, channel) => this.handle(msg, channel));
    process.on("SIGINT", () => this.runner.interrupt());
  }

  private async handle(msg: Message, channel: Channel): Promise<void> {
    const type = msg.header.msg_type;
    // iopub sends are queued in order (server.ts); awaiting each would only add latency.
    void this.server.publish("status", { execution_state: "busy" }, msg);
    try {
      const reply = type.replace(/_request$/, "_reply");
      const c = msg.content as Record<string, unknown>;
      switch (type) {
        case "kernel_info_request":
          await this.server.reply(channel, msg, reply, this.kernelInfo());
          break;
        case "execute_request":
          await this.execute(msg, channel);
          break;
        case "complete_request":
          await this.server.reply(channel, msg, reply, this.complete(String(c.code), Number(c.cursor_pos)));
          break;
        case "inspect_request":
          await this.server.reply(channel, msg, reply, this.inspect(String(c.code), Number(c.cursor_pos)));
          break;
        case "is_complete_request":
          await this.server.reply(channel, msg, reply, this.isComplete(String(c.code)));
          break;
        case "history_request":
          await this.server.reply(channel, msg, reply, { status: "ok", history: this.history.query(c as HistoryQuery) });
          break;
        case "comm_info_request":
          await this.server.reply(channel, msg, reply, { status: "ok", comms: {} });
          break;
        case "comm_open":
          // No comm targets are registered: close it, as the spec asks.
          await this.server.publish("comm_close", { comm_id: c.comm_id, data: {} }, msg);
          break;
        case "interrupt_request":
          this.runner.interrupt();
          await this.server.reply(channel, msg, reply, { status: "ok" });
          break;
        case "shutdown_request":
          await this.server.reply(channel, msg, reply, { status: "ok", restart: !!c.restart });
          await this.server.publish("status", { execution_state: "idle" }, msg);
          setTimeout(() => {
            this.server.close();
            process.exit(0);
          }, 50);
          return;
        default:
          break; // unknown requests are ignored (spec: kernels may)
      }
    } finally {
      void this.server.publish("status", { execution_state: "idle" }, msg);
    }
  }

  kernelInfo(): Record<string, unknown> {
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "slimlab",
      implementation_version: kernelVersion(),
      language_info: {
        name: "typescript",
        version: TYPESCRIPT_VERSION,
        mimetype: "text/typescript",
        file_extension: ".ts",
        codemirror_mode: { name: "javascript", typescript: true },
        pygments_lexer: "typescript",
      },
      banner: `slimlab ${kernelVersion()}: TypeScript (tslab ${TSLAB_VERSION}, TypeScript ${TYPESCRIPT_VERSION}, Node ${process.version}) with magics; %lsmagic lists them`,
      help_links: [{ text: "slimlab README", url: "https://www.npmjs.com/package/slimlab" }],
    };
  }

  private async execute(msg: Message, channel: Channel): Promise<void> {
    const c = msg.content as { code: string; silent?: boolean; store_history?: boolean };
    const silent = !!c.silent;
    const store = c.store_history !== false && !silent;
    if (store) this.count++;
    const count = this.count;
    this.parent = msg;
    void this.server.publish("execute_input", { code: c.code, execution_count: count }, msg);
    if (store) this.history.add(count, c.code);
    const out = await this.runner.run(c.code);
    const payload = out.pages.map((text) => ({ source: "page", data: { "text/plain": text }, start: 0 }));
    if (!out.ok && out.error) {
      void this.server.publish("error", { ...out.error, execution_count: count }, msg);
      await this.server.reply(channel, msg, "execute_reply", { status: "error", execution_count: count, ...out.error, payload, user_expressions: {} });
      return;
    }
    if (out.result && store) this.history.setOutput(count, String(out.result["text/plain"] ?? ""));
    if (out.result && !silent) {
      void this.server.publish("execute_result", { execution_count: count, data: out.result, metadata: {} }, msg);
    }
    await this.server.reply(channel, msg, "execute_reply", { status: "ok", execution_count: count, payload, user_expressions: {} });
  }

  /** Maps a position in the cell to the expanded code (only line 0 moves, by the import prefix). */
  private complete(code: string, pos: number): Record<string, unknown> {
    const magic = completeMagic(code, pos, this.runner.registry);
    if (magic) return { status: "ok", matches: magic.matches, cursor_start: magic.start, cursor_end: magic.end, metadata: {} };
    let exp: Expansion;
    try {
      exp = this.runner.expand(code);
    } catch {
      exp = { code, firstLineShift: 0, timeCell: false, magics: [], magicLines: [] };
    }
    const toExpanded = (p: number) => mapPosition(code, exp.code, p);
    const info = this.runner.executor.complete(exp.code, toExpanded(pos));
    const back = (p: number) => mapPosition(exp.code, code, p);
    return { status: "ok", matches: info.candidates, cursor_start: back(info.start), cursor_end: back(info.end), metadata: {} };
  }

  private inspect(code: string, pos: number): Record<string, unknown> {
    const lineStart = code.lastIndexOf("\n", pos - 1) + 1;
    const lineEnd = code.indexOf("\n", pos);
    const line = code.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
    const magic = /%%?([A-Za-z_]\w*)/.exec(line);
    if (magic && isMagicLine(line, this.runner.registry)) {
      const spec = this.runner.registry.get(magic[1]);
      if (spec) return { status: "ok", found: true, data: { "text/plain": helpText(spec) }, metadata: {} };
    }
    let exp: string = code;
    try {
      exp = this.runner.expand(code).code;
    } catch {
      // inspect what is there
    }
    const info = this.runner.executor.inspect(exp, mapPosition(code, exp, pos));
    if (!info?.displayParts) return { status: "ok", found: false, data: {}, metadata: {} };
    const sig = info.displayParts.map((p) => p.text).join("");
    const doc = (info.documentation ?? []).map((p) => p.text).join("");
    return { status: "ok", found: true, data: { "text/plain": doc ? `${sig}\n\n${doc}` : sig }, metadata: {} };
  }

  private isComplete(code: string): Record<string, unknown> {
    let exp: string;
    try {
      exp = this.runner.expand(code).code;
    } catch {
      return { status: "invalid" };
    }
    // An open template literal or block comment: tslab's check misses these.
    const starts = codeLineStarts(`${exp}\n`);
    if (!starts[starts.length - 1]) return { status: "incomplete", indent: "" };
    const r = isCompleteCode(exp);
    return r.completed ? { status: "complete" } : { status: "incomplete", indent: r.indent ?? "" };
  }
}

/**
 * Maps offset `pos` of text `from` to the same line and column of `to`. The
 * two have the same number of lines; a magic line's length differs, and
 * line 0 may carry the import prefix (whose length is the line-length
 * difference when the rest of the line is unchanged).
 */
export function mapPosition(from: string, to: string, pos: number): number {
  const fromLines = from.split("\n");
  const toLines = to.split("\n");
  let line = 0;
  let rest = pos;
  while (line < fromLines.length - 1 && rest > fromLines[line].length) {
    rest -= fromLines[line].length + 1;
    line++;
  }
  const a = fromLines[line] ?? "";
  const b = toLines[line] ?? "";
  // The same line with a prefix added or removed (the import on line 0).
  const shift = b.endsWith(a) ? b.length - a.length : a.endsWith(b) ? -(a.length - b.length) : 0;
  let offset = 0;
  for (let i = 0; i < line; i++) offset += (toLines[i] ?? "").length + 1;
  return offset + Math.max(0, Math.min(b.length, rest + shift));
}
