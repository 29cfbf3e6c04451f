/**
 * tfjs' "install the node backend" banner (console.warn from the CPU
 * backend's first write) is dropped; every other warning still prints.
 */
import { strict as assert } from "assert";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { isTfjsNodeBanner, suppressTfjsNodeBanner } from "../../../kernel/display/tfjs-banner";

/** Replaces console.warn by a recorder while `fn` runs. */
function recordWarnings(fn: () => void): unknown[][] {
  const original = console.warn;
  const seen: unknown[][] = [];
  console.warn = (...args: unknown[]) => void seen.push(args);
  try {
    fn();
  } finally {
    console.warn = original;
  }
  return seen;
}

/** A fresh CPU backend's first write: where tfjs prints the banner. */
function firstCpuWrite(): void {
  const b = new MathBackendCPU();
  b.write(new Float32Array([1]), [1], "float32");
  b.dispose();
}

describe("kernel/display/tfjs-banner", () => {
  it("tfjs prints the banner on a CPU backend's first write (what the filter is for)", () => {
    const seen = recordWarnings(firstCpuWrite);
    assert.equal(seen.length, 1);
    assert.ok(isTfjsNodeBanner(seen[0]), String(seen[0]));
  });

  it("with the filter, the banner is dropped and other warnings pass, arguments and all", () => {
    const seen = recordWarnings(() => {
      suppressTfjsNodeBanner();
      suppressTfjsNodeBanner(); // twice: still one filter
      firstCpuWrite();
      console.warn("other", 42);
      console.warn("Hi, looks like you are running TensorFlow.js in Node.js (quoted in a user's message)");
    });
    assert.deepEqual(seen, [["other", 42], ["Hi, looks like you are running TensorFlow.js in Node.js (quoted in a user's message)"]]);
  });

  it("recognises only the banner's own text", () => {
    assert.ok(isTfjsNodeBanner(["\n============================\nHi, looks like you are running TensorFlow.js in Node.js. To speed things up dramatically, install our node backend, visit https://github.com/tensorflow/tfjs-node for more details. \n============================"]));
    assert.ok(!isTfjsNodeBanner(["Hi, looks like you are running TensorFlow.js in Node.js. To speed things up dramatically, install our node backend", "extra"]));
    assert.ok(!isTfjsNodeBanner(["cpu backend was already registered. Reusing existing backend factory."]));
    assert.ok(!isTfjsNodeBanner([]));
  });
});
