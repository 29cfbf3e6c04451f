/**
 * The kernel's second thread (see watchdog.ts). It owns the heartbeat and
 * control sockets, so both answer while the main thread is busy in a cell,
 * and it carries out interrupts:
 *   1. reply to interrupt_request at once and tell the main thread, which
 *      stops the cell cooperatively (abort signal, fit.stopTraining, timers);
 *   2. if the cell is in synchronous code that vm can break into, send the
 *      process SIGINT (vm's breakOnSigint turns it into an exception);
 *   3. if the main thread has not acknowledged after ESCALATE_MS (a
 *      microtask loop such as `for (;;) await 0`, or a long synchronous
 *      stretch after an await), terminate the running JavaScript through
 *      the inspector (`Runtime.terminateExecution`), after which the main
 *      thread's event loop runs again and finishes the interrupt.
 * Every other control message is passed to the main thread as raw frames.
 */
import { Session } from "inspector";
import { parentPort, workerData } from "worker_threads";
import * as zmq from "zeromq";
import { decodeChecked, DigestHistory, encode, Signer } from "./wire";

export interface WatchdogData {
  hb: string;
  control: string;
  key: string;
  scheme: string;
  /** Int32 slots shared with the main thread; indices in PHASE_SLOT / ACK_SLOT. */
  shared: SharedArrayBuffer;
}

/** Slot of `shared`: 0 idle, 1 synchronous cell code (vm can be broken into with SIGINT), 2 awaiting an async cell. */
export const PHASE_SLOT = 0;
/** Slot of `shared`: incremented by the main thread each time it has handled an interrupt. */
export const ACK_SLOT = 1;
export const PHASE = { idle: 0, sync: 1, async: 2 } as const;

/** How long the main thread gets to take an interrupt before its JavaScript is terminated. */
export const ESCALATE_MS = 2000;

export type ToMain =
  | { type: "ready" }
  | { type: "control"; frames: Uint8Array[] }
  | { type: "interrupt"; forced: boolean; frames: Uint8Array[] }
  | { type: "log"; text: string };

export type FromMain = { type: "send"; frames: Uint8Array[] } | { type: "close" };

function main(): void {
  const port = parentPort;
  if (!port) return;
  const data = workerData as WatchdogData;
  const shared = new Int32Array(data.shared);
  const signer = new Signer(data.key, data.scheme);
  const digests = new DigestHistory();
  const hb = new zmq.Reply();
  const control = new zmq.Router();
  const post = (m: ToMain) => port.postMessage(m);
  const log = (text: string) => post({ type: "log", text });
  let sending: Promise<void> = Promise.resolve();
  const send = (frames: Uint8Array[]) => {
    sending = sending.then(() => control.send(frames.map((f) => Buffer.from(f))), () => control.send(frames.map((f) => Buffer.from(f))));
    sending.catch((e) => log(`control send failed: ${e}`));
  };
  let session: Session | undefined;
  const terminateMainJs = () => {
    if (!session) {
      session = new Session();
      session.connectToMainThread();
    }
    session.post("Runtime.terminateExecution", (err) => err && log(`terminateExecution failed: ${err.message}`));
  };

  const interrupt = (frames: Uint8Array[]) => {
    const ack = Atomics.load(shared, ACK_SLOT);
    post({ type: "interrupt", forced: false, frames });
    if (Atomics.load(shared, PHASE_SLOT) === PHASE.sync) process.kill(process.pid, "SIGINT");
    setTimeout(() => {
      if (Atomics.load(shared, ACK_SLOT) !== ack || Atomics.load(shared, PHASE_SLOT) === PHASE.idle) return;
      terminateMainJs();
      post({ type: "interrupt", forced: true, frames });
    }, ESCALATE_MS);
  };

  port.on("message", (m: FromMain) => {
    if (m.type === "send") send(m.frames);
    else if (m.type === "close") {
      void sending.finally(() => {
        hb.close();
        control.close();
        session?.disconnect();
        port.postMessage({ type: "closed" });
      });
    }
  });

  void (async () => {
    await Promise.all([hb.bind(data.hb), control.bind(data.control)]);
    post({ type: "ready" });
    void (async () => {
      for await (const frames of hb) await hb.send(frames);
    })().catch(() => undefined);
    for await (const frames of control) {
      const r = decodeChecked(frames, signer, digests);
      if (!r.ok) {
        log(`control: ${r.reason}; message skipped`);
        continue;
      }
      if (r.msg.header.msg_type === "interrupt_request") {
        send(encode(signer, "interrupt_reply", { status: "ok" }, r.msg));
        interrupt(frames);
      } else {
        post({ type: "control", frames });
      }
    }
  })().catch((e) => log(`watchdog: ${(e as Error).stack ?? e}`));
}

main();
