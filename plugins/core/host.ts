/**
 * What a plugin may ask of whoever runs it: show rich output, draw a progress
 * bar, and learn that the user pressed "interrupt".
 *
 * Plugins never import the kernel (house rule 1). Instead the kernel installs
 * a Host when it starts; in plain Node (a script, a test) the default host
 * prints text and is never interrupted. This is the one piece of process-wide
 * state in plugins/, kept in a single slot on globalThis so that it holds
 * even if a user's code loads a second copy of this file.
 */

/** A MIME bundle as Jupyter's display_data carries it: MIME type → payload. */
export type MimeBundle = Record<string, unknown>;

/** Final states a progress bar can end in. */
export type ProgressEnd = "done" | "interrupted" | "error";

/** A live progress line (a bar in the notebook, a line of text elsewhere). */
export interface Progress {
  /** Sets the number of completed steps and an optional status text ("loss 0.31"). */
  update(done: number, status?: string): void;
  /** Closes the bar in its final state. Further updates are ignored. */
  end(state: ProgressEnd, status?: string): void;
}

/** A display that can be replaced in place (a live chart, a table being filled). */
export interface LiveDisplay {
  update(bundle: MimeBundle): void;
}

export interface Host {
  /** Shows a rich output (several MIME types of the same thing). */
  display(bundle: MimeBundle): void;
  /** Shows a rich output that later calls can replace in place. */
  liveDisplay(bundle: MimeBundle): LiveDisplay;
  /** Starts a progress bar of `total` steps titled `label`. */
  progress(label: string, total: number): Progress;
  /**
   * The signal of the run in progress: aborted when the user interrupts.
   * Long loops check `signal.aborted` between steps.
   */
  signal(): AbortSignal;
}

/** The host for plain Node: text on stdout, never interrupted. */
export function textHost(write: (s: string) => void = (s) => process.stdout.write(s)): Host {
  const never = new AbortController().signal;
  return {
    display(bundle) {
      const text = bundle["text/plain"];
      write(`${typeof text === "string" ? text : JSON.stringify(text ?? Object.keys(bundle))}\n`);
    },
    liveDisplay(bundle) {
      this.display(bundle);
      return { update: (b) => this.display(b) };
    },
    progress(label, total) {
      let closed = false;
      let lastPrint = 0;
      return {
        update(done, status) {
          const now = Date.now();
          if (closed || now - lastPrint < 1000) return;
          lastPrint = now;
          write(`${label}: ${done}/${total}${status ? ` ${status}` : ""}\n`);
        },
        end(state, status) {
          if (closed) return;
          closed = true;
          write(`${label}: ${state}${status ? ` ${status}` : ""}\n`);
        },
      };
    },
    signal: () => never,
  };
}

const SLOT = Symbol.for("slimlab.host");
type Slot = { [SLOT]?: Host };

/** The host in force: the kernel's when running in slimlab, text otherwise. */
export function host(): Host {
  const g = globalThis as Slot;
  if (!g[SLOT]) g[SLOT] = textHost();
  return g[SLOT] as Host;
}

/** Installs `h` as the host (the kernel does this once at start). Returns the previous one. */
export function setHost(h: Host): Host {
  const prev = host();
  (globalThis as Slot)[SLOT] = h;
  return prev;
}
