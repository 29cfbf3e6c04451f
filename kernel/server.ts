/**
 * ZeroMQ sockets of a Jupyter kernel (messaging spec, "Introduction"): shell
 * (ROUTER), iopub (PUB) and stdin (ROUTER, for input_request / input_reply)
 * on the main thread; heartbeat
 * (REP) and control (ROUTER) on the watchdog thread (watchdog.ts), so they
 * answer while a cell keeps the main thread busy.
 * This file moves frames; what a message means is kernel.ts's business.
 * A message that is unsigned, replayed or not valid JSON is logged and
 * skipped; no receive loop ever stops on one.
 */
import * as zmq from "zeromq";
import { Watchdog, WatchdogEvents } from "./watchdog";
import type { MemoryStop } from "./watchdog-worker";
import { decodeChecked, DigestHistory, encode, Message, Signer } from "./wire";

export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
}

export type Channel = "shell" | "control";

/** zeromq 6 rejects a send while another is in flight on the same socket: queue them. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: zmq.Writable) {}
  send(frames: Buffer[]): Promise<void> {
    this.tail = this.tail.then(
      () => this.sock.send(frames),
      () => this.sock.send(frames),
    );
    return this.tail;
  }
}

export class Server {
  readonly signer: Signer;
  readonly watchdog = new Watchdog();
  private readonly shell = new zmq.Router();
  private readonly stdin = new zmq.Router();
  // No high-water mark: a PUB socket drops messages past it, and a dropped
  // `status: idle` leaves the frontend showing "busy" for good. Stream
  // output is coalesced (output.ts), so the queue stays short.
  private readonly iopub = new zmq.Publisher({ sendHighWaterMark: 0 });
  private readonly queues: Record<"shell" | "iopub" | "stdin", SendQueue>;
  private readonly digests = new DigestHistory();
  private handler: ((msg: Message, channel: Channel) => Promise<void>) | undefined;
  private closed = false;
  /** The cell waiting for an input_reply on stdin, if one is. */
  private inputWaiter: { resolve(reply: Message): void; reject(e: Error): void } | undefined;

  constructor(private readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.queues = {
      shell: new SendQueue(this.shell),
      iopub: new SendQueue(this.iopub),
      stdin: new SendQueue(this.stdin),
    };
  }

  private address(port: number): string {
    const sep = this.info.transport === "ipc" ? "-" : ":";
    return `${this.info.transport}://${this.info.ip}${sep}${port}`;
  }

  /**
   * Binds every socket; the heartbeat and control ones on the watchdog
   * thread, whose interrupts go to `onInterrupt`.
   */
  async bind(onInterrupt: (forced: boolean, request: Message | undefined, memory: MemoryStop | undefined, sameCell: boolean) => void): Promise<void> {
    const events: WatchdogEvents = {
      control: (frames) => this.receive(frames, "control"),
      interrupt: (forced, frames, memory, sameCell) => {
        const r = frames.length > 0 ? decodeChecked(frames, this.signer) : undefined;
        onInterrupt(forced, r?.ok ? r.msg : undefined, memory, sameCell);
      },
      log: (text) => logInternal(text),
    };
    await Promise.all([
      this.shell.bind(this.address(this.info.shell_port)),
      this.stdin.bind(this.address(this.info.stdin_port)),
      this.iopub.bind(this.address(this.info.iopub_port)),
      this.watchdog.start(this.address(this.info.hb_port), this.address(this.info.control_port), this.info.key, this.info.signature_scheme, events),
    ]);
  }

  /**
   * Starts handling requests. Shell requests are handled one at a time in
   * arrival order (execute_request must not overlap); control requests are
   * handled as they come, so shutdown gets through while a cell runs
   * (interrupt_request never reaches here: the watchdog thread takes it).
   */
  serve(handle: (msg: Message, channel: Channel) => Promise<void>): void {
    this.handler = handle;
    void this.shellLoop();
    void this.stdinLoop();
  }

  /** Whether shell requests are waiting to be handled (they arrived while one was being handled). */
  shellPending(): boolean {
    return this.shell.readable;
  }

  /**
   * Sends input_request on stdin to the frontend that sent `parent` (its
   * stdin socket has the shell socket's identity, as jupyter_client sets
   * them) and resolves with its input_reply. Rejects with KeyboardInterrupt
   * when `signal` aborts (the cell was interrupted); a reply that comes
   * after that is dropped.
   */
  requestInput(parent: Message, content: { prompt: string; password: boolean }, signal: AbortSignal): Promise<Message> {
    const interrupted = () => Object.assign(new Error("interrupted by the user while waiting for input"), { name: "KeyboardInterrupt" });
    if (signal.aborted) return Promise.reject(interrupted());
    this.inputWaiter?.reject(new Error("another input request replaced this one"));
    const reply = new Promise<Message>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.inputWaiter = waiter;
      signal.addEventListener(
        "abort",
        () => {
          if (this.inputWaiter === waiter) this.inputWaiter = undefined;
          reject(interrupted());
        },
        { once: true },
      );
    });
    return this.queues.stdin.send(encode(this.signer, "input_request", content, parent, parent.identities)).then(() => reply);
  }

  private async stdinLoop(): Promise<void> {
    for (;;) {
      try {
        for await (const frames of this.stdin) {
          const r = decodeChecked(frames, this.signer, this.digests);
          if (!r.ok) {
            logInternal(`stdin: ${r.reason}; message skipped`);
            continue;
          }
          const waiter = this.inputWaiter;
          if (r.msg.header.msg_type !== "input_reply" || !waiter) {
            logInternal(`stdin: ${r.msg.header.msg_type} that no cell waits for; skipped`);
            continue;
          }
          this.inputWaiter = undefined;
          waiter.resolve(r.msg);
        }
        return; // the socket was closed
      } catch (e) {
        if (this.closed) return;
        logInternal(e);
      }
    }
  }

  private async shellLoop(): Promise<void> {
    for (;;) {
      try {
        for await (const frames of this.shell) await this.receive(frames, "shell");
        return; // the socket was closed
      } catch (e) {
        if (this.closed) return;
        logInternal(e); // a failed receive: log it and keep serving
      }
    }
  }

  private receive(frames: Buffer[], channel: Channel): Promise<void> {
    // Control frames were checked (signature, replay) on the watchdog thread.
    const r = decodeChecked(frames, this.signer, channel === "shell" ? this.digests : undefined);
    if (!r.ok) {
      logInternal(`${channel}: ${r.reason}; message skipped`);
      return Promise.resolve();
    }
    return (this.handler?.(r.msg, channel) ?? Promise.resolve()).catch((e) => logInternal(e));
  }

  reply(channel: Channel, parent: Message, msgType: string, content: unknown, metadata?: Record<string, unknown>): Promise<void> {
    const frames = encode(this.signer, msgType, content, parent, parent.identities, metadata);
    if (channel === "control") {
      this.watchdog.sendControl(frames);
      return Promise.resolve();
    }
    return this.queues[channel].send(frames);
  }

  publish(msgType: string, content: unknown, parent: Message | undefined, metadata?: Record<string, unknown>): Promise<void> {
    const topic = [Buffer.from(`kernel.${msgType}`)];
    return this.queues.iopub.send(encode(this.signer, msgType, content, parent, topic, metadata));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watchdog.close();
    for (const s of [this.shell, this.stdin, this.iopub]) s.close();
  }
}

/** Kernel-internal problems go to the real stderr (the notebook server's log), never to a cell. */
export function logInternal(e: unknown): void {
  const text = e instanceof Error ? e.stack ?? e.message : String(e);
  try {
    require("fs").writeSync(2, `[slimlab] ${text}\n`);
  } catch {
    // nothing left to report to
  }
}
