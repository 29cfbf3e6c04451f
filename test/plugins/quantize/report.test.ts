import { strict as assert } from "assert";
import { histogram, range } from "../../../plugins/core/histogram";
import { mulberry32 } from "../../../plugins/data/random";
import { quantizeTensor } from "../../../plugins/quantize/quantizer";
import { histogramFigure } from "../../../plugins/quantize/report";

describe("quantize/report histogramFigure", () => {
  it("bins every weight (not a sample) into 200 bars, so the figure stays small whatever the tensor's size", () => {
    const rand = mulberry32(3);
    const n = 300_000;
    const w = Float32Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * 0.1);
    const q = quantizeTensor(w, [600, 500], { scheme: "kmeans", bits: 4, perChannel: false, init: "linear" }, 1);
    const fig = histogramFigure("fc/kernel", w, q);
    const bars = fig.data[0] as { type: string; x: number[]; y: number[]; width: number };
    assert.equal(bars.type, "bar");
    assert.equal(bars.y.length, 200);
    assert.equal(bars.y.reduce((a, b) => a + b, 0), n, "every weight counted once");
    const [lo, hi] = range([w]);
    assert.ok(Math.abs(bars.x[0] - (lo + bars.width / 2)) < 1e-9 && Math.abs(bars.x[199] + bars.width / 2 - hi) < 1e-6);
    const levels = fig.data[1] as { x: number[] };
    assert.equal(levels.x.length, 16, "a 4-bit codebook");
    assert.ok(JSON.stringify(fig).length < 20_000, `figure JSON ${JSON.stringify(fig).length} characters`);
  });

  it("histogram() puts values outside [lo, hi] in the end bins and can skip zeros", () => {
    const h = histogram([Float32Array.from([-5, 0, 0.5, 1, 9])], 0, 1, 2, false);
    assert.deepEqual(h.counts, [2, 3]);
    assert.deepEqual(h.edges, [0, 0.5, 1]);
    assert.deepEqual(histogram([Float32Array.from([0, 0, 0.7])], 0, 1, 2, true).counts, [0, 1]);
  });
});
