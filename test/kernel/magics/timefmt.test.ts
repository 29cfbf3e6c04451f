/**
 * %time / %timeit output formats against IPython's. The expected strings
 * are what IPython 8 (IPython/core/magics/execution.py: _format_time and
 * TimeitResult.__str__) prints for the same numbers.
 */
import { strict as assert } from "assert";
import { formatCpuWall, formatTime } from "../../../kernel/magics/timefmt";
import { formatTimeit, TimeitResult } from "../../../kernel/magics/builtins";

// [seconds, IPython's _format_time(seconds)]
const IPYTHON: [number, string][] = [
  [0.00123, "1.23 ms"],
  [1.5, "1.5 s"],
  [2.0, "2 s"],
  [0, "0 ns"],
  [1e-10, "0.1 ns"],
  [5e-7, "500 ns"],
  [0.000123456, "123 \u00b5s"],
  [0.999, "999 ms"],
  [12.3456, "12.3 s"],
  [59.99, "60 s"],
  [60, "1min"],
  [123.4, "2min 3s"],
  [3600, "1h"],
  [3661.5, "1h 1min 1s"],
  [90061, "1d 1h 1min 1s"],
  [1.5e-6, "1.5 \u00b5s"],
  [1e-3, "1 ms"],
  [1e-6, "1 \u00b5s"],
];

function timeit(loops: number, timings: number[]): TimeitResult {
  const average = timings.reduce((a, b) => a + b, 0) / timings.length;
  const stdev = Math.sqrt(timings.reduce((a, t) => a + (t - average) ** 2, 0) / timings.length);
  return { loops, repeat: timings.length, average, stdev, best: Math.min(...timings), worst: Math.max(...timings), timings };
}

describe("kernel/magics/timefmt", () => {
  for (const [seconds, expected] of IPYTHON) {
    it(`formatTime(${seconds}) is IPython's ${JSON.stringify(expected)}`, () => {
      assert.equal(formatTime(seconds), expected);
    });
  }

  it("uses the micro sign U+00B5, as IPython", () => {
    assert.equal(formatTime(2e-6).codePointAt(2), 0xb5);
  });

  it("formatCpuWall prints IPython's two %time lines", () => {
    assert.equal(
      formatCpuWall({ user: 1230, system: 0 }, 2.5),
      "CPU times: user 1.23 ms, sys: 0 ns, total: 1.23 ms\nWall time: 2.5 s\n",
    );
    assert.equal(
      formatCpuWall({ user: 61_000_000, system: 500_000 }, 75),
      "CPU times: user 1min 1s, sys: 500 ms, total: 1min 1s\nWall time: 1min 15s\n",
    );
  });

  it("formatTimeit matches IPython's TimeitResult text", () => {
    // IPython: TimeitResult(100, 7, ..., all_runs = per-run totals) for these per-loop times.
    const per = [1.2e-3, 1.3e-3, 1.1e-3, 1.2e-3, 1.2e-3, 1.2e-3, 1.2e-3];
    assert.equal(formatTimeit(timeit(100, per)), "1.2 ms \u00b1 53.5 \u00b5s per loop (mean \u00b1 std. dev. of 7 runs, 100 loops each)");
    assert.equal(formatTimeit(timeit(1, [0.5])), "500 ms \u00b1 0 ns per loop (mean \u00b1 std. dev. of 1 run, 1 loop each)");
    assert.equal(formatTimeit(timeit(1_000_000, Array(7).fill(1e-7))), "100 ns \u00b1 0 ns per loop (mean \u00b1 std. dev. of 7 runs, 1,000,000 loops each)");
  });
});
