import * as assert from "assert";
import { floatToHalf, quantizeFloat16 } from "../../../plugins/quantize/float16";
import { halfToFloat } from "../../../plugins/quantize/quantized";
import { mulberry32 } from "../../../plugins/data/random";

describe("quantize/float16", () => {
  it("encodes known values with round-to-nearest-even", () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519, 0x7bff],
      [65520, 0x7c00], // rounds to Inf
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie → even (0)
      [3 * 2 ** -25, 0x0002], // tie → even (2)
      [1 + 2 ** -11, 0x3c00], // tie → even
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [2 ** -14 - 2 ** -25, 0x0400], // subnormal rounding carries into the smallest normal
      [0, 0],
      [-0, 0x8000],
    ];
    for (const [x, h] of cases) assert.strictEqual(floatToHalf(x), h, `floatToHalf(${x})`);
  });

  it("round-trips every finite half exactly", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue; // Inf / NaN
      assert.strictEqual(floatToHalf(halfToFloat(h)), h);
    }
  });

  it("picks the nearest half for random float32 values", () => {
    const r = mulberry32(3);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((r() - 0.5) * 2 ** Math.floor(r() * 40 - 26));
      const h = floatToHalf(x);
      const y = halfToFloat(h);
      for (const n of [h - 1, h + 1]) {
        if (n < 0 || (n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (h & 0x8000)) continue;
        assert.ok(Math.abs(x - y) <= Math.abs(x - halfToFloat(n)), `x=${x} h=${h}`);
      }
    }
  });

  it("quantizeFloat16 returns codes and widened values", () => {
    const q = quantizeFloat16(new Float32Array([0.1, -3]), [2]);
    assert.deepStrictEqual(Array.from(q.codes), [0x2e66, 0xc200]);
    assert.strictEqual(q.values[0], 0.0999755859375);
  });
});
