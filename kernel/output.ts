/**
 * Coalesces what a cell prints into few `stream` messages, as ipykernel
 * does: text is buffered and sent every FLUSH_MS, before any other output
 * of the cell (so order is kept) and when the cell ends. One message per
 * `console.log` would flood iopub: a million short lines used to overrun
 * ZeroMQ's send queue, losing output and the final `status: idle`.
 *
 * Past a per-cell cap the text is dropped and counted, and the cell ends
 * with one note saying how much was not shown.
 */
import { realTimers } from "./cell-scope";

export type StreamName = "stdout" | "stderr";

/** How often buffered text is sent while a cell runs. */
export const FLUSH_MS = 100;
/** Characters of stream output one cell may send; override with SLIMLAB_MAX_OUTPUT_CHARS. */
export const DEFAULT_CAP_CHARS = 2_000_000;

export function capFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.SLIMLAB_MAX_OUTPUT_CHARS);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_CAP_CHARS;
}

export class StreamBuffer {
  private pending: { name: StreamName; text: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private dropped: Record<StreamName, number> = { stdout: 0, stderr: 0 };

  /**
   * @param emit sends one stream message
   * @param cap characters per cell before text is dropped
   * @param flushMs how long text may wait in the buffer
   */
  constructor(
    private readonly emit: (name: StreamName, text: string) => void,
    private readonly cap = capFromEnv(),
    private readonly flushMs = FLUSH_MS,
  ) {}

  write(name: StreamName, text: string): void {
    if (text === "") return;
    const room = this.cap - this.sent;
    if (room <= 0) {
      this.dropped[name] += text.length;
      return;
    }
    if (text.length > room) {
      this.dropped[name] += text.length - room;
      text = text.slice(0, room);
    }
    this.sent += text.length;
    const last = this.pending[this.pending.length - 1];
    if (last && last.name === name) last.text += text;
    else this.pending.push({ name, text });
    // The kernel's timer, not the cell's: an interrupt clears the cell's timers.
    if (!this.timer) this.timer = realTimers.setTimeout(() => this.flush(), this.flushMs);
  }

  /** Sends everything buffered now. */
  flush(): void {
    if (this.timer) realTimers.clearTimeout(this.timer);
    this.timer = undefined;
    const out = this.pending;
    this.pending = [];
    for (const p of out) this.emit(p.name, p.text);
  }

  /** Starts counting toward the cap afresh. */
  startCell(): void {
    this.flush();
    this.sent = 0;
    this.dropped = { stdout: 0, stderr: 0 };
  }

  /** Flushes, then says how much output the cap dropped, if any. */
  endCell(): void {
    this.flush();
    for (const name of ["stdout", "stderr"] as const) {
      const n = this.dropped[name];
      if (n > 0) {
        this.emit("stderr", `[slimlab] ${n.toLocaleString("en-US")} more characters of ${name} were not shown: one cell may print ${this.cap.toLocaleString("en-US")} (set SLIMLAB_MAX_OUTPUT_CHARS to change it, or write long output to a file)\n`);
      }
    }
    this.dropped = { stdout: 0, stderr: 0 };
  }
}
