/** Small seeded models, data and hosts shared by the distill tests. */
import * as tf from "@tensorflow/tfjs";
import { Host, MimeBundle, ProgressEnd, setHost } from "../../../plugins/core/host";
import { assertRejects as rejectsSlimlab, init } from "../../support/assertions";

export { assertSlimlab as assertThrows, init } from "../../support/assertions";

/** Shared assertRejects, also requiring the message to be one line. */
export function assertRejects(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  return rejectsSlimlab(p, code, message, { oneLine: true });
}

/** 4 → h1(units, relu) → h2(units, relu) → out(3, softmax); no dropout, so training is bit-reproducible. */
export function mlp3(units: number, seed: number, name = "net"): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "h1", units, activation: "relu", inputShape: [4], kernelInitializer: init(seed) }),
      tf.layers.dense({ name: "h2", units, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

/** Three Gaussian blobs in 4-D, labels 0..2 as float32 indices. */
export function blobs(n: number, seed: number): { xs: tf.Tensor2D; ys: tf.Tensor1D } {
  return tf.tidy(() => {
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const centers = tf.tensor2d(labels.map((l) => [l === 0 ? 1 : -1, l === 1 ? 1 : -1, l === 2 ? 1 : -1, 0]));
    const xs = tf.add(centers, tf.randomNormal([n, 4], 0, 0.7, "float32", seed)) as tf.Tensor2D;
    return { xs, ys: tf.tensor1d(labels, "float32") };
  });
}

export function weightsOf(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(w.dataSync()));
}

/** What a recording host saw. */
export interface Recording {
  host: Host;
  bars: { label: string; total: number; updates: number; end?: ProgressEnd; status?: string }[];
  displays: MimeBundle[];
  liveUpdates: MimeBundle[];
}

/** A host that records progress bars and displays and hands out `signal`. */
export function recordingHost(signal: AbortSignal = new AbortController().signal): Recording {
  const rec: Recording = { bars: [], displays: [], liveUpdates: [], host: undefined as unknown as Host };
  rec.host = {
    display: (b) => void rec.displays.push(b),
    liveDisplay: (b) => {
      rec.displays.push(b);
      return { update: (u) => void rec.liveUpdates.push(u) };
    },
    progress: (label, total) => {
      const bar: Recording["bars"][number] = { label, total, updates: 0 };
      rec.bars.push(bar);
      return {
        update: () => void bar.updates++,
        end: (state, status) => {
          bar.end = state;
          bar.status = status;
        },
      };
    },
    signal: () => signal,
  };
  return rec;
}

/** Runs `fn` with `h` installed as the host, then restores the previous one. */
export async function withHost<T>(h: Host, fn: () => Promise<T>): Promise<T> {
  const previous = setHost(h);
  try {
    return await fn();
  } finally {
    setHost(previous);
  }
}

/** Switches to `backend` for a mocha suite and back to the previous one afterwards. */
export function suiteBackend(backend: string): void {
  let previous: string | undefined;
  before(async () => {
    // backendName is null before any backend was chosen (tf.getBackend() would initialise one).
    previous = tf.engine().backendName ?? undefined;
    await tf.setBackend(backend);
  });
  after(async () => {
    await tf.setBackend(previous ?? "cpu");
  });
}
