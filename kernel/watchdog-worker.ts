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
 *      stretch after an await or in a timer callback), terminate the
 *      running JavaScript through the inspector (`Runtime.terminateExecution`),
 *      after which the main thread's event loop runs again and finishes the
 *      interrupt.
 * It also watches the main thread's JavaScript heap: past HEAP_STOP of
 * Node's limit, V8 would soon end the process ("JavaScript heap out of
 * memory"), so the running code is terminated first and reported as a
 * MemoryError.
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
  /** The main thread's heap_size_limit (v8.getHeapStatistics()). */
  heapLimit: number;
  /** Whether Node runs without async-hooks checks (KERNEL_NODE_FLAGS): only then is it safe to terminate a timer callback. */
  mayTerminateCallbacks: boolean;
}

/**
 * Slot of `shared`: 0 idle, 1 synchronous cell code (vm can be broken into
 * with SIGINT), 2 awaiting an async cell, 3 in a timer callback of a cell.
 */
export const PHASE_SLOT = 0;
/** Slot of `shared`: incremented by the main thread each time it has handled an interrupt. */
export const ACK_SLOT = 1;
/**
 * Slots of `shared` set before the watchdog breaks into synchronous code
 * for lack of memory (SIGINT carries no reason): 1 in STOP_SLOT, and the
 * heap's use and limit in KiB.
 */
export const STOP_SLOT = 2;
export const USED_KIB_SLOT = 3;
export const LIMIT_KIB_SLOT = 4;
/** Slot of `shared`: incremented by the main thread whenever a cell starts, so a late interrupt or escalation cannot hit the next cell. */
export const RUN_SLOT = 5;
/**
 * Slot of `shared`: SIGINTs the watchdog sent and the main thread has not
 * yet accounted for. One that arrives just before vm's breakOnSigint is
 * armed reaches the kernel's own SIGINT listener later, when another cell
 * may be running; the listener ignores signals counted here.
 */
export const SIGNAL_SLOT = 6;
/**
 * Slot of `shared`: 1 + the run an interrupt was last asked for, set before
 * the main thread is told, so a cell about to start its synchronous code
 * sees the request even if its message has not been read yet.
 */
export const ASKED_SLOT = 7;
export const SHARED_SLOTS = 8;
export const PHASE = { idle: 0, sync: 1, async: 2, callback: 3 } as const;

/** How long the main thread gets to take an interrupt before its JavaScript is terminated. */
export const ESCALATE_MS = 2000;
/** Share of the heap limit at which running code is stopped. */
export const HEAP_STOP = 0.9;
const HEAP_POLL_MS = 250;
/** Past this share of the limit the heap is checked every HEAP_FAST_POLL_MS: a busy loop can fill the rest within one slow poll. */
const HEAP_WATCH = 0.6;
const HEAP_FAST_POLL_MS = 40;

/** Why the watchdog stopped code on its own: the heap was about to run out. */
export interface MemoryStop {
  used: number;
  limit: number;
}

export type ToMain =
  | { type: "ready" }
  | { type: "control"; frames: Uint8Array[] }
  | { type: "interrupt"; forced: boolean; frames: Uint8Array[]; memory?: MemoryStop; run: number }
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
  const ensureSession = (): Session => {
    if (!session) {
      session = new Session();
      session.connectToMainThread();
    }
    return session;
  };
  const terminateMainJs = () => {
    ensureSession().post("Runtime.terminateExecution", (err) => err && log(`terminateExecution failed: ${err.message}`));
  };

  const sigint = () => {
    Atomics.add(shared, SIGNAL_SLOT, 1);
    process.kill(process.pid, "SIGINT");
  };

  // Synchronous cell code runs inside the executor's own call: terminating
  // it would take the kernel's frames with it, so it is stopped with SIGINT,
  // which vm's breakOnSigint turns into an exception the executor catches.
  // Awaited cell code and timer callbacks have no kernel frames under them
  // and are terminated through the inspector.
  const breakIn = (): boolean => {
    const phase = Atomics.load(shared, PHASE_SLOT);
    if (phase === PHASE.idle) return false;
    if (phase === PHASE.sync) {
      sigint();
      return false;
    }
    if (phase === PHASE.callback && !data.mayTerminateCallbacks) {
      log("a timer callback of a cell does not stop; it cannot be terminated safely without the node flag --no-force-async-hooks-checks (reinstall the kernelspec: npx slimlab install)");
      return false;
    }
    terminateMainJs();
    return true;
  };

  const interrupt = (frames: Uint8Array[]) => {
    const ack = Atomics.load(shared, ACK_SLOT);
    const run = Atomics.load(shared, RUN_SLOT);
    Atomics.store(shared, ASKED_SLOT, run + 1);
    post({ type: "interrupt", forced: false, frames, run });
    if (Atomics.load(shared, PHASE_SLOT) === PHASE.sync) sigint();
    setTimeout(() => {
      // Handled, or that cell is over and another may be running: leave it alone.
      if (Atomics.load(shared, ACK_SLOT) !== ack || Atomics.load(shared, RUN_SLOT) !== run) return;
      if (breakIn()) post({ type: "interrupt", forced: true, frames, run });
    }, ESCALATE_MS);
  };

  // The heap check asks the main thread's V8 through the inspector, which
  // answers even while JavaScript runs there.
  let stopping = false;
  const checkHeap = () => {
    if (stopping || Atomics.load(shared, PHASE_SLOT) === PHASE.idle) {
      heapTimer = setTimeout(checkHeap, HEAP_POLL_MS);
      return;
    }
    ensureSession().post("Runtime.getHeapUsage", (err, res) => {
      const used = (res as { usedSize?: number } | undefined)?.usedSize;
      const next = used !== undefined && used > HEAP_WATCH * data.heapLimit ? HEAP_FAST_POLL_MS : HEAP_POLL_MS;
      heapTimer = setTimeout(checkHeap, next);
      if (err || used === undefined || stopping || used < HEAP_STOP * data.heapLimit) return;
      stopping = true;
      Atomics.store(shared, USED_KIB_SLOT, Math.round(used / 1024));
      Atomics.store(shared, LIMIT_KIB_SLOT, Math.round(data.heapLimit / 1024));
      Atomics.store(shared, STOP_SLOT, 1);
      if (breakIn()) post({ type: "interrupt", forced: true, frames: [], memory: { used, limit: data.heapLimit }, run: Atomics.load(shared, RUN_SLOT) });
      // Let the main thread free what the stopped code held before looking again.
      setTimeout(() => (stopping = false), 5000);
    });
  };
  let heapTimer = setTimeout(checkHeap, HEAP_POLL_MS);

  port.on("message", (m: FromMain) => {
    if (m.type === "send") send(m.frames);
    else if (m.type === "close") {
      void sending.finally(() => {
        clearTimeout(heapTimer);
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
