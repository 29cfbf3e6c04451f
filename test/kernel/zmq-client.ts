/**
 * A small Jupyter client for tests: writes a connection file with free ports
 * on 127.0.0.1, starts `node bin/slimlab.js kernel <file>` and talks to it
 * over real ZeroMQ sockets (messaging spec 5.3), signing with kernel/wire.ts.
 * Its stdin socket answers input_request with what `answerInput` says.
 */
import { ChildProcess, spawn } from "child_process";
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as zmq from "zeromq";
import { KERNEL_NODE_FLAGS } from "../../kernel/node-flags";
import { decode, encode, Message, Signer } from "../../kernel/wire";

const ROOT = path.resolve(__dirname, "../../..");

/** A port the OS reports free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Node arguments that start slimlab's kernel (the default). */
export const SLIMLAB = (connectionFile: string): string[] => [...KERNEL_NODE_FLAGS, path.join(ROOT, "bin", "slimlab.js"), "kernel", connectionFile];
/** Node arguments that start plain tslab's kernel, for comparisons (bench/kernel.ts). */
export const PLAIN_TSLAB = (connectionFile: string): string[] => [path.join(ROOT, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", connectionFile];

export type ChannelName = "shell" | "control" | "iopub" | "stdin";

/** Answers an input_request (its content: prompt, password) with a value, or leaves it unanswered (undefined). */
export type InputAnswerer = (request: Message) => string | undefined;

/** What one request produced: its reply and the iopub messages it caused (until idle). */
export interface Exchange {
  reply: Message;
  iopub: Message[];
}

export class KernelClient {
  readonly proc: ChildProcess;
  /** The kernel's stderr so far (its internal log), for failure messages. */
  stderr = "";
  /** Messages that failed the signature check or could not be parsed (should stay empty). */
  readonly badMessages: string[] = [];
  private readonly log: Record<ChannelName, Message[]> = { shell: [], control: [], iopub: [], stdin: [] };
  private answerer: InputAnswerer | undefined;
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  exited: Promise<number | null>;

  /** The heartbeat's address (tcp://127.0.0.1:port). */
  hbAddress = "";

  private constructor(
    private readonly dir: string,
    private readonly signer: Signer,
    private readonly shell: zmq.Dealer,
    private readonly control: zmq.Dealer,
    private readonly iopubSock: zmq.Subscriber,
    private readonly stdin: zmq.Dealer,
    cwd: string,
    connectionFile: string,
    argv: (connectionFile: string) => string[],
  ) {
    this.proc = spawn(process.execPath, argv(connectionFile), {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.proc.stdout?.on("data", () => undefined);
    this.exited = new Promise((resolve) => this.proc.on("exit", (code) => resolve(code)));
    for (const [name, sock] of [["shell", shell], ["control", control], ["iopub", iopubSock], ["stdin", stdin]] as const) void this.pump(name, sock);
  }

  /**
   * Starts a kernel whose working directory is `cwd` and waits until it
   * answers kernel_info on shell and publishes on iopub (so no iopub message
   * of later requests is lost to the subscription's slow start).
   */
  static async start(cwd: string, timeoutMs = 30000, argv: (connectionFile: string) => string[] = SLIMLAB): Promise<KernelClient> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-conn-"));
    const [shell_port, iopub_port, stdin_port, control_port, hb_port] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const info = { transport: "tcp", ip: "127.0.0.1", shell_port, iopub_port, stdin_port, control_port, hb_port, key: randomUUID(), signature_scheme: "hmac-sha256", kernel_name: "slimlab" };
    const file = path.join(dir, "kernel.json");
    fs.writeFileSync(file, JSON.stringify(info));
    const at = (port: number) => `tcp://127.0.0.1:${port}`;
    // The stdin socket has the shell socket's identity, as jupyter_client gives them (the kernel sends input_request to it).
    const identity = `client-${randomUUID().slice(0, 8)}`;
    const shell = new zmq.Dealer({ linger: 0, routingId: identity });
    const stdin = new zmq.Dealer({ linger: 0, routingId: identity });
    const control = new zmq.Dealer({ linger: 0, routingId: `control-${randomUUID().slice(0, 8)}` });
    const iopub = new zmq.Subscriber({ linger: 0 });
    shell.connect(at(shell_port));
    control.connect(at(control_port));
    iopub.connect(at(iopub_port));
    iopub.subscribe();
    stdin.connect(at(stdin_port));
    const client = new KernelClient(dir, new Signer(info.key, info.signature_scheme), shell, control, iopub, stdin, cwd, file, argv);
    client.hbAddress = at(hb_port);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const id = await client.send("shell", "kernel_info_request", {});
      try {
        await client.waitFor("iopub", (m) => m.parent_header.msg_id === id, 1000);
        await client.waitFor("shell", (m) => m.parent_header.msg_id === id, 5000);
        await client.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "status" && m.content.execution_state === "idle", 5000);
        return client;
      } catch (e) {
        if (Date.now() > deadline || client.proc.exitCode !== null) {
          await client.close();
          throw new Error(`kernel did not start: ${(e as Error).message}\n${client.stderr}`);
        }
      }
    }
  }

  private async pump(name: ChannelName, sock: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of sock) {
        const msg = decode(frames as Buffer[], this.signer);
        if (!msg) {
          this.badMessages.push(`${name}: ${(frames as Buffer[]).map((f) => f.toString()).join(" | ")}`);
          continue;
        }
        this.log[name].push(msg);
        if (name === "stdin" && msg.header.msg_type === "input_request") this.answer(msg);
        for (const w of this.waiters.splice(0)) w();
      }
    } catch (e) {
      if (!this.closed) this.badMessages.push(`${name}: receive failed: ${(e as Error).message}`);
    }
  }

  /** From now on, input_requests are answered by `fn` (undefined: left unanswered). */
  answerInput(fn: InputAnswerer | undefined): void {
    this.answerer = fn;
  }

  private answer(request: Message): void {
    const value = this.answerer?.(request);
    if (value !== undefined) void this.replyInput(request, value);
  }

  /** Sends input_reply with `value` to input_request `request`. */
  async replyInput(request: Message, value: string): Promise<void> {
    const frames = encode(this.signer, "input_reply", { value }, request, []);
    await this.stdin.send(frames);
  }

  /** Signed frames of a new request (to send as they are, twice, or after tampering). */
  frames(msgType: string, content: Record<string, unknown>): Buffer[] {
    return encode(this.signer, msgType, content, undefined, []);
  }

  /** Frames whose content is not JSON, correctly signed. */
  malformedFrames(msgType: string): Buffer[] {
    const good = this.frames(msgType, {});
    const json = good.slice(2, 5).map((b) => b.toString());
    const bad = "{not json";
    return [good[0], Buffer.from(this.signer.sign([...json, bad])), ...json.map((j) => Buffer.from(j)), Buffer.from(bad)];
  }

  /** Sends raw frames on a channel. */
  async sendFrames(channel: "shell" | "control", frames: Buffer[]): Promise<void> {
    await (channel === "shell" ? this.shell : this.control).send(frames);
  }

  /** Every message received on `channel` so far. */
  received(channel: ChannelName): Message[] {
    return this.log[channel];
  }

  /** One heartbeat round trip; resolves with its milliseconds, rejects after `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<number> {
    const req = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
    req.connect(this.hbAddress);
    const t0 = Date.now();
    try {
      await req.send("ping");
      await req.receive();
      return Date.now() - t0;
    } finally {
      req.close();
    }
  }

  /** Sends a request; returns its msg_id. */
  async send(channel: "shell" | "control", msgType: string, content: Record<string, unknown>): Promise<string> {
    const frames = encode(this.signer, msgType, content, undefined, []);
    const header = JSON.parse(frames[2].toString()) as { msg_id: string };
    await (channel === "shell" ? this.shell : this.control).send(frames);
    return header.msg_id;
  }

  /** The first message on `channel` (already received or still to come) that `pred` accepts. */
  waitFor(channel: ChannelName, pred: (m: Message) => boolean, timeoutMs = 20000): Promise<Message> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`no matching ${channel} message within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (done) return;
        const hit = this.log[channel].find(pred);
        if (hit) {
          done = true;
          clearTimeout(timer);
          resolve(hit);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** The iopub messages caused by request `id` so far, in order. */
  iopubOf(id: string): Message[] {
    return this.log.iopub.filter((m) => m.parent_header.msg_id === id);
  }

  /** Waits for the reply to `id` and the idle status that ends it. */
  async finish(channel: "shell" | "control", id: string, timeoutMs = 20000): Promise<Exchange> {
    const reply = await this.waitFor(channel, (m) => m.parent_header.msg_id === id, timeoutMs);
    await this.waitFor("iopub", (m) => m.parent_header.msg_id === id && m.header.msg_type === "status" && m.content.execution_state === "idle", timeoutMs);
    return { reply, iopub: this.iopubOf(id) };
  }

  /** Sends a request and waits for everything it causes. */
  async request(channel: "shell" | "control", msgType: string, content: Record<string, unknown>, timeoutMs = 20000): Promise<Exchange> {
    return this.finish(channel, await this.send(channel, msgType, content), timeoutMs);
  }

  /** Sends execute_request for `code`; returns its msg_id. */
  startExecute(code: string, extra: Record<string, unknown> = {}): Promise<string> {
    return this.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra });
  }

  execute(code: string, timeoutMs = 20000): Promise<Exchange> {
    return this.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, timeoutMs);
  }

  /** Kills the kernel (if still running) and closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
    for (const s of [this.shell, this.control, this.iopubSock, this.stdin]) s.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
