/**
 * The main thread's side of the kernel's second thread (watchdog-worker.ts):
 * starts it with the heartbeat and control addresses, passes control
 * messages both ways, and tells it which phase a cell is in so it can pick
 * the right way to interrupt it.
 */
import * as path from "path";
import { Worker } from "worker_threads";
import { realTimers } from "./cell-scope";
import { ACK_SLOT, FromMain, PHASE, PHASE_SLOT, ToMain, WatchdogData } from "./watchdog-worker";

export type Phase = keyof typeof PHASE;

export interface WatchdogEvents {
  /** A control message other than interrupt_request, as raw frames. */
  control(frames: Buffer[]): void;
  /**
   * The user asked to interrupt (the request's raw frames, already answered);
   * `forced` when the running JavaScript was already terminated.
   */
  interrupt(forced: boolean, frames: Buffer[]): void;
  /** Something for the kernel's log. */
  log(text: string): void;
}

export class Watchdog {
  private readonly shared = new SharedArrayBuffer(8);
  private readonly slots = new Int32Array(this.shared);
  private worker: Worker | undefined;

  /**
   * Starts the thread and binds its sockets; resolves once both listen.
   *
   * @param hb heartbeat address (zmq REP)
   * @param control control address (zmq ROUTER)
   */
  async start(hb: string, control: string, key: string, scheme: string, on: WatchdogEvents): Promise<void> {
    const data: WatchdogData = { hb, control, key, scheme, shared: this.shared };
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
            on.interrupt(m.forced, m.frames.map((f) => Buffer.from(f)));
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
