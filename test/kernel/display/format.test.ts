/**
 * How values become MIME bundles: objects with their own toMimeBundle,
 * tensors as tfjs prints them, danfo frames as HTML tables, the rest as
 * Node's inspect; and the progress bar's text and HTML.
 */
import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { escapeHtml, toMimeBundle } from "../../../kernel/display/format";
import { progressBundle } from "../../../kernel/display/kernel-host";

/** Looks like danfojs's DataFrame to format.ts (constructor name and `$data`), without loading danfo. */
class DataFrame {
  readonly $data: unknown[][];
  constructor(readonly columns: string[], readonly index: unknown[], readonly values: unknown[][]) {
    this.$data = values;
  }
  toString(): string {
    return `DataFrame ${this.index.length}x${this.columns.length}`;
  }
}

class Series {
  readonly $data: unknown[];
  constructor(readonly index: unknown[], readonly values: unknown[]) {
    this.$data = values;
  }
  toString(): string {
    return `Series ${this.values.length}`;
  }
}

describe("kernel/display/format", () => {
  it("an object with toMimeBundle() gives its own bundle", () => {
    const fig = { toMimeBundle: () => ({ "application/vnd.plotly.v1+json": { data: [] }, "text/plain": "Figure" }) };
    assert.deepEqual(toMimeBundle(fig), { "application/vnd.plotly.v1+json": { data: [] }, "text/plain": "Figure" });
  });

  it("a tensor prints as tfjs's toString; a disposed one says so instead of throwing", () => {
    const t = tf.tensor1d([1, 2, 3]);
    const m = tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32");
    try {
      assert.deepEqual(toMimeBundle(t), { "text/plain": "Tensor\n    [1, 2, 3]" });
      assert.deepEqual(toMimeBundle(m), { "text/plain": m.toString() });
      assert.equal(m.toString(), "Tensor\n    [[1, 2],\n     [3, 4]]");
    } finally {
      t.dispose();
      m.dispose();
    }
    assert.deepEqual(toMimeBundle(m), { "text/plain": "Tensor (disposed) shape=[2,2] dtype=int32" });
  });

  it("showing tensors leaks none", () => {
    const t = tf.tensor2d([[1, 2], [3, 4]]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) toMimeBundle(t);
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  it("a danfo-like DataFrame gives text and an HTML table (escaped, 4 significant digits)", () => {
    const df = new DataFrame(["a", "b<c>"], [0, "r&1"], [
      [1, 0.1234567],
      ["x<y", 2e-7],
    ]);
    assert.deepEqual(toMimeBundle(df), {
      "text/plain": "DataFrame 2x2",
      "text/html":
        '<table class="dataframe"><thead><tr><th></th><th>a</th><th>b&lt;c&gt;</th></tr></thead>' +
        "<tbody><tr><th>0</th><td>1</td><td>0.1235</td></tr><tr><th>r&amp;1</th><td>x&lt;y</td><td>2e-7</td></tr></tbody></table>",
    });
  });

  it("a danfo-like Series is one column named value", () => {
    assert.deepEqual(toMimeBundle(new Series(["a", "b"], [1.5, 2])), {
      "text/plain": "Series 2",
      "text/html":
        '<table class="dataframe"><thead><tr><th></th><th>value</th></tr></thead><tbody><tr><th>a</th><td>1.5</td></tr><tr><th>b</th><td>2</td></tr></tbody></table>',
    });
  });

  it("an object merely named DataFrame, without danfo's $data, is inspected", () => {
    class DataFrame {
      x = 1;
    }
    assert.deepEqual(toMimeBundle(new DataFrame()), { "text/plain": "DataFrame { x: 1 }" });
  });

  it("strings are shown raw; other values as Node's inspect", () => {
    assert.deepEqual(toMimeBundle("text"), { "text/plain": "text" });
    assert.deepEqual(toMimeBundle(3), { "text/plain": "3" });
    assert.deepEqual(toMimeBundle([2, 4]), { "text/plain": "[ 2, 4 ]" });
    assert.deepEqual(toMimeBundle(null), { "text/plain": "null" });
    assert.deepEqual(toMimeBundle(new Map([["a", 1]])), { "text/plain": "Map(1) { 'a' => 1 }" });
    assert.match(String(toMimeBundle(Array.from({ length: 60 }, (_, i) => i))["text/plain"]), /\.\.\. 10 more items\n\]$/);
    assert.match(String(toMimeBundle({ a: { b: { c: { d: { e: { f: 1 } } } } } })["text/plain"]), /e: \[Object\]/);
  });

  it("escapeHtml escapes &, <, > and double quotes", () => {
    assert.equal(escapeHtml('<a href="x">&</a>'), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
  });

  describe("progressBundle", () => {
    it("running: a 30-character bar, percent, done/total and status", () => {
      const b = progressBundle("epochs", 3, 10, "loss 0.31");
      assert.equal(b["text/plain"], `epochs [${"#".repeat(9)}${".".repeat(21)}] 30% 3/10 loss 0.31`);
      assert.match(String(b["text/html"]), /width:30\.0%;height:100%;background:#1f77b4/);
      assert.match(String(b["text/html"]), /^<div style="font-family:monospace">epochs /);
    });

    it("ended: the state is shown and coloured", () => {
      assert.equal(progressBundle("fit", 10, 10, "", "done")["text/plain"], `fit [${"#".repeat(30)}] 100% done 10/10`);
      const stopped = progressBundle("fit <1>", 4, 10, "at batch 4", "interrupted");
      assert.equal(stopped["text/plain"], `fit <1> [${"#".repeat(12)}${".".repeat(18)}] 40% interrupted 4/10 at batch 4`);
      assert.match(String(stopped["text/html"]), /fit &lt;1&gt;/);
      assert.match(String(stopped["text/html"]), /background:#ff7f0e/);
      assert.match(String(progressBundle("x", 1, 2, "", "error")["text/html"]), /background:#d62728/);
    });

    it("clamps past the total and handles a zero total", () => {
      assert.equal(progressBundle("p", 15, 10, "")["text/plain"], `p [${"#".repeat(30)}] 100% 15/10`);
      assert.equal(progressBundle("p", 0, 0, "")["text/plain"], `p [${".".repeat(30)}] 0% 0/0`);
    });
  });
});
