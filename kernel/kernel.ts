/**
 * The slimlab kernel: answers Jupyter requests (messaging spec 5.3) by
 * expanding magics, running cells through the executor and publishing what
 * they print and show. Every failure of a cell is an `error` message and an
 * error reply; nothing a cell does stops the kernel.
 */
import * as fs from "fs";
import * as path from "path";
import { helpText } from "../plugins/core/magic";
import { CellOutcome, CellRunner, heapStopText } from "./cell-runner";
import { memoryError } from "./executor";
import { realTimers } from "./cell-scope";
import { realExit } from "./guard";
import { History, HistoryQuery } from "./history";
import { completeMagic } from "./magics/complete";
import { Expansion, isMagicLine } from "./magics/expand";
import { codeLineStarts } from "./magics/lines";
import { MagicRegistry } from "./magics/registry";
import { packageRoot } from "./modules";
import { StreamBuffer } from "./output";
import { Channel, logInternal, Server } from "./server";
import { isCompleteCode, syntaxErrors, TSLAB_VERSION, TYPESCRIPT_VERSION } from "./tslab-adapter";
import { Message, PROTOCOL_VERSION } from "./wire";

export { CellRunner } from "./cell-runner";
export type { CellOutcome, OutputSink } from "./cell-runner";

export function kernelVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version;
}

/** The Jupyter face of CellRunner. */
export class Kernel {
  private count = 0;
  private readonly history = new History();
  private parent: Message | undefined;
  private readonly runner: CellRunner;
  /** The running cell's stream output, sent in batches (output.ts). */
  private readonly streams: StreamBuffer;
  /**
   * Set when a cell failed with stop_on_error: execute requests already
   * queued then are answered "aborted" without running, as ipykernel does;
   * cleared once no request is waiting.
   */
  private aborting = false;

  constructor(private readonly server: Server, cwd: string, registerBuiltins: (r: MagicRegistry) => void) {
    this.streams = new StreamBuffer((name, text) => void this.server.publish("stream", { name, text }, this.parent));
    this.runner = new CellRunner(
      cwd,
      {
        stream: (name, text, origin) => {
          // A late error of a finished cell goes to that cell's output area.
          if (origin?.tag) void this.server.publish("stream", { name, text }, origin.tag as Message);
          else this.streams.write(name, text);
        },
        display: (type, content) => {
          this.streams.flush(); // keep printed text and displays in the order they happened
          void this.server.publish(type, content, this.parent);
        },
      },
      registerBuiltins,
    );
    this.runner.onPhase((phase) => this.server.watchdog.setPhase(phase));
    this.runner.onRunStart = () => this.server.watchdog.newRun();
    this.runner.executor.interruptPending = () => this.server.watchdog.interruptAskedForThisRun();
    this.runner.executor.stopCause = () => {
      this.server.watchdog.takeOwnSignal(); // vm took this SIGINT: the listener below will not see it
      const m = this.server.watchdog.takeMemoryStop();
      return m ? memoryError(heapStopText(m)) : undefined;
    };
  }

  start(): void {
    void this.server.publish("status", { execution_state: "starting" }, undefined);
    this.server.serve((msg, channel) => this.handle(msg, channel));
    // interrupt_mode "signal" (older kernelspecs, terminals): SIGINT from the frontend.
    // The watchdog's own SIGINTs carry their interrupt in a message of their own.
    process.on("SIGINT", () => {
      if (!this.server.watchdog.takeOwnSignal()) this.runner.interrupt();
    });
  }

  /**
   * An interrupt from the watchdog thread, which already replied to the
   * interrupt_request; the busy/idle pair the spec asks for every request
   * is published here, once the main thread is free to.
   */
  interrupt(forced: boolean, request: Message | undefined, memory?: { used: number; limit: number }, sameCell = true): void {
    this.runner.interrupt(forced, memory, sameCell);
    if (forced || !request) return; // a forced interrupt is the second word on the same request
    void this.server.publish("status", { execution_state: "busy" }, request);
    void this.server.publish("status", { execution_state: "idle" }, request);
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
          if (this.aborting) await this.server.reply(channel, msg, reply, { status: "aborted" }, { status: "aborted" });
          else await this.execute(msg, channel);
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
          realTimers.setTimeout(() => {
            this.server.close().then(
              () => realExit(0),
              (e) => {
                logInternal(e);
                realExit(0);
              },
            );
          }, 50);
          return;
        default:
          break; // unknown requests are ignored (spec: kernels may)
      }
    } finally {
      if (this.aborting && channel === "shell" && !this.server.shellPending()) this.aborting = false;
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
    const c = msg.content as unknown as ExecuteRequest;
    const silent = !!c.silent;
    const store = c.store_history !== false && !silent;
    if (store) this.count++;
    const count = this.count;
    this.parent = msg;
    // Wait for busy and execute_input to leave before the cell runs: a
    // synchronous cell blocks the event loop, and the frontend must know it is busy.
    await this.server.publish("execute_input", { code: c.code, execution_count: count }, msg);
    if (store) this.history.add(count, c.code);
    this.streams.startCell();
    // input() asks the frontend only if the request allows it (the spec's default is to allow).
    this.runner.setInput(c.allow_stdin === false ? undefined : (prompt, password, signal) => this.requestInput(msg, prompt, password, signal));
    let out: CellOutcome;
    let userExpressions: Record<string, unknown> = {};
    try {
      out = await this.runner.run(c.code, count, msg, { store });
      // As ipykernel: evaluated after the cell, and only if it succeeded.
      if (out.ok) userExpressions = await this.userExpressions(c.user_expressions);
    } finally {
      this.runner.setInput(undefined);
    }
    this.streams.endCell();
    const payload = out.pages.map((text) => ({ source: "page", data: { "text/plain": text }, start: 0 }));
    if (!out.ok && out.error) {
      if (!silent && c.stop_on_error !== false) this.aborting = true;
      void this.server.publish("error", { ...out.error, execution_count: count }, msg);
      await this.server.reply(channel, msg, "execute_reply", { status: "error", execution_count: count, ...out.error, payload, user_expressions: {} });
      return;
    }
    if (out.result && store) this.history.setOutput(count, String(out.result["text/plain"] ?? ""));
    if (out.result && !silent) {
      void this.server.publish("execute_result", { execution_count: count, data: out.result, metadata: {} }, msg);
    }
    await this.server.reply(channel, msg, "execute_reply", { status: "ok", execution_count: count, payload, user_expressions: userExpressions });
  }

  /** Each user expression's value as a MIME bundle, or its error (ipykernel's format). */
  private async userExpressions(exprs: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(exprs ?? {})) {
      const r = await this.runner.evaluate(String(expr));
      out[name] = r.ok ? { status: "ok", data: r.bundle, metadata: {} } : { status: "error", ...r.error };
    }
    return out;
  }

  /** input() of a cell: input_request on stdin, the input_reply's value back. */
  private async requestInput(parent: Message, prompt: string, password: boolean, signal: AbortSignal): Promise<string> {
    this.streams.flush(); // what the cell printed before shows above the prompt
    const reply = await this.server.requestInput(parent, { prompt, password }, signal);
    const value = (reply.content as { value?: unknown }).value;
    return typeof value === "string" ? value : "";
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
    if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
    // Complete but unparseable (`let 3x = ;`): running more lines will not fix it.
    return syntaxErrors(exp).length > 0 ? { status: "invalid" } : { status: "complete" };
  }
}

/** What slimlab reads of an execute_request (messaging spec, "Execute"). */
interface ExecuteRequest {
  code: string;
  silent?: boolean;
  store_history?: boolean;
  user_expressions?: Record<string, unknown>;
  allow_stdin?: boolean;
  stop_on_error?: boolean;
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
