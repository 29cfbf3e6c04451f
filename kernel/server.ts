/**
 * ZeroMQ sockets of a Jupyter kernel (messaging spec, "Introduction"): shell
 * and control (ROUTER), iopub (PUB), stdin (ROUTER), heartbeat (REP).
 * This file moves frames; what a message means is kernel.ts's business.
 */
import * as zmq from "zeromq";
import { decode, encode, Message, Signer } from "./wire";

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
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly queues: Record<"shell" | "control" | "iopub" | "stdin", SendQueue>;
  private closed = false;

  constructor(private readonly info: ConnectionInfo) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.queues = {
      shell: new SendQueue(this.shell),
      control: new SendQueue(this.control),
      iopub: new SendQueue(this.iopub),
      stdin: new SendQueue(this.stdin),
    };
  }

  private address(port: number): string {
    const sep = this.info.transport === "ipc" ? "-" : ":";
    return `${this.info.transport}://${this.info.ip}${sep}${port}`;
  }

  async bind(): Promise<void> {
    await Promise.all([
      this.shell.bind(this.address(this.info.shell_port)),
      this.control.bind(this.address(this.info.control_port)),
      this.stdin.bind(this.address(this.info.stdin_port)),
      this.iopub.bind(this.address(this.info.iopub_port)),
      this.hb.bind(this.address(this.info.hb_port)),
    ]);
  }

  /**
   * Starts the receive loops. Shell requests are handled one at a time in
   * arrival order (execute_request must not overlap); control requests are
   * handled as they come, so interrupt and shutdown get through while a cell runs.
   */
  serve(handle: (msg: Message, channel: Channel) => Promise<void>): void {
    void this.loop(this.shell, "shell", handle, true);
    void this.loop(this.control, "control", handle, false);
    void (async () => {
      for await (const frames of this.hb) {
        if (this.closed) break;
        await this.hb.send(frames);
      }
    })().catch(() => undefined);
  }

  private async loop(
    sock: zmq.Router,
    channel: Channel,
    handle: (msg: Message, channel: Channel) => Promise<void>,
    sequential: boolean,
  ): Promise<void> {
    try {
      for await (const frames of sock) {
        const msg = decode(frames, this.signer);
        if (!msg) continue; // unsigned or malformed: the spec says to ignore it
        const done = handle(msg, channel).catch((e) => logInternal(e));
        if (sequential) await done;
      }
    } catch (e) {
      if (!this.closed) logInternal(e);
    }
  }

  reply(channel: Channel, parent: Message, msgType: string, content: unknown, metadata?: Record<string, unknown>): Promise<void> {
    return this.queues[channel].send(encode(this.signer, msgType, content, parent, parent.identities, metadata));
  }

  publish(msgType: string, content: unknown, parent: Message | undefined, metadata?: Record<string, unknown>): Promise<void> {
    const topic = [Buffer.from(`kernel.${msgType}`)];
    return this.queues.iopub.send(encode(this.signer, msgType, content, parent, topic, metadata));
  }

  close(): void {
    this.closed = true;
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
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
