/**
 * The main thread's side of the kernel's second thread (watchdog-worker.ts):
 * starts it with the heartbeat and control addresses, passes control
 * messages both ways, and tells it which phase a cell is in so it can pick
 * the right way to interrupt it.
 */
import * as path from "path";
import { Worker } from "worker_threads";
import { realTimers } from "./cell-scope";
import * as v8 from "v8";
import { KERNEL_NODE_FLAGS } from "./node-flags";
import { ACK_SLOT, ASKED_SLOT, FromMain, LIMIT_KIB_SLOT, MemoryStop, PHASE, PHASE_SLOT, RUN_SLOT, SHARED_SLOTS, SIGNAL_SLOT, STOP_SLOT, ToMain, USED_KIB_SLOT, WatchdogData } from "./watchdog-worker";

export type Phase = keyof typeof PHASE;

export interface WatchdogEvents {
  /** A control message other than interrupt_request, as raw frames. */
  control(frames: Buffer[]): void;
  /**
   * The user asked to interrupt (the request's raw frames, already answered),
   * or the heap was about to run out (`memory`, no frames); `forced` when
   * the running JavaScript was already terminated.
   */
  interrupt(forced: boolean, frames: Buffer[], memory: MemoryStop | undefined, sameCell: boolean): void;
  /** Something for the kernel's log. */
  log(text: string): void;
}

export class Watchdog {
  private readonly shared = new SharedArrayBuffer(4 * SHARED_SLOTS);
  private readonly slots = new Int32Array(this.shared);
  private worker: Worker | undefined;

  /**
   * Starts the thread and binds its sockets; resolves once both listen.
   *
   * @param hb heartbeat address (zmq REP)
   * @param control control address (zmq ROUTER)
   */
  async start(hb: string, control: string, key: string, scheme: string, on: WatchdogEvents): Promise<void> {
    const flags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
    const data: WatchdogData = {
      hb,
      control,
      key,
      scheme,
      shared: this.shared,
      heapLimit: v8.getHeapStatistics().heap_size_limit,
      mayTerminateCallbacks: KERNEL_NODE_FLAGS.every((f) => flags.includes(f)),
    };
    const worker = new Worker(path.join(__dirname, "watchdog-worker.js"), { workerData: data });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: ToMain) => {
        switch (m.type) {
          case "ready":
            worker.off("error", reject);
            worker.on("error", (e) => on.log(`watchdog thread failed: ${e.stack ?? e}`));
            resolve();
            break;
          case "control":
            on.control(m.frames.map((f) => Buffer.from(f)));
            break;
          case "interrupt":
            Atomics.add(this.slots, ACK_SLOT, 1);
            // The message can be handled after its cell ended and the next began: that one is not to be hit.
            on.interrupt(m.forced, m.frames.map((f) => Buffer.from(f)), m.memory, m.run === Atomics.load(this.slots, RUN_SLOT));
            break;
          case "log":
            on.log(m.text);
            break;
        }
      });
    });
  }

  /** Sends frames on the control socket. */
  sendControl(frames: Buffer[]): void {
    const m: FromMain = { type: "send", frames };
    this.worker?.postMessage(m);
  }

  /**
   * Why synchronous code was just broken into, if the watchdog did it for
   * lack of memory (read once: the reason is cleared).
   */
  takeMemoryStop(): MemoryStop | undefined {
    if (Atomics.exchange(this.slots, STOP_SLOT, 0) !== 1) return undefined;
    return { used: Atomics.load(this.slots, USED_KIB_SLOT) * 1024, limit: Atomics.load(this.slots, LIMIT_KIB_SLOT) * 1024 };
  }

  /**
   * Accounts for one SIGINT the watchdog sent, if any is outstanding: true
   * when the signal just seen (by vm's breakOnSigint or the kernel's SIGINT
   * listener) was the watchdog's own, not the frontend's.
   */
  takeOwnSignal(): boolean {
    for (;;) {
      const n = Atomics.load(this.slots, SIGNAL_SLOT);
      if (n <= 0) return false;
      if (Atomics.compareExchange(this.slots, SIGNAL_SLOT, n, n - 1) === n) return true;
    }
  }

  /**
   * Numbers a new cell run. Called when a cell starts, before its magics are
   * expanded or its code type-checked: an interrupt requested before that
   * belongs to the previous run and must not reach this one.
   */
  newRun(): void {
    Atomics.add(this.slots, RUN_SLOT, 1);
  }

  /**
   * Whether an interrupt was asked for while this run was on (read at once:
   * its message may be read only after synchronous code, which it could not
   * stop, began).
   */
  interruptAskedForThisRun(): boolean {
    return Atomics.load(this.slots, ASKED_SLOT) === Atomics.load(this.slots, RUN_SLOT) + 1;
  }

  /** Records what the main thread is doing, for the next interrupt. */
  setPhase(phase: Phase): void {
    Atomics.store(this.slots, PHASE_SLOT, PHASE[phase]);
  }

  /** Closes the thread's sockets (a live zmq socket in a thread aborts the process at exit). */
  async close(timeoutMs = 1000): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    const closed = new Promise<void>((resolve) => w.on("message", (m: { type: string }) => m.type === "closed" && resolve()));
    w.postMessage({ type: "close" } satisfies FromMain);
    await Promise.race([closed, new Promise((r) => realTimers.setTimeout(r, timeoutMs).unref())]);
    await w.terminate();
  }
}
