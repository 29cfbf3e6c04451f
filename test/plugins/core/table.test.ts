/**
 * What a reader sees in slimlab's tables: no literal NaN / null / undefined,
 * headers in words rather than camelCase keys, numbers to the digits they
 * carry; and what the data keeps (full values, keys) in DataFrames.
 */
import * as assert from "assert";
import { EMPTY, cellText, headerText, htmlTable, plainTable, tableBundle, toDataFrame } from "../../../plugins/core/table";

describe("core/table: cells", () => {
  it("shows a missing value as an en dash, never as a literal", () => {
    for (const v of [NaN, null, undefined]) assert.strictEqual(cellText(v), EMPTY);
    assert.strictEqual(EMPTY, "–");
    assert.strictEqual(cellText(Infinity), "∞");
    assert.strictEqual(cellText(-Infinity), "−∞");
  });

  it("rounds numbers to 4 significant digits, whole from 1,000, with separators from 10,000", () => {
    assert.strictEqual(cellText(0.95600000001), "0.956");
    assert.strictEqual(cellText(0.1234567), "0.1235");
    assert.strictEqual(cellText(3.98765), "3.988");
    assert.strictEqual(cellText(0.0012592), "0.001259");
    assert.strictEqual(cellText(2e-7), "2e-7");
    assert.strictEqual(cellText(1041.015625), "1041");
    assert.strictEqual(cellText(29.796875), "29.8");
    assert.strictEqual(cellText(12345.678), "12,346");
    assert.strictEqual(cellText(1199882), "1,199,882");
    assert.strictEqual(cellText(2000), "2000");
    assert.strictEqual(cellText(-0), "0");
    assert.strictEqual(cellText(-0.5), "-0.5");
  });

  it("shows booleans as yes/no, strings as they are, objects as JSON", () => {
    assert.strictEqual(cellText(true), "yes");
    assert.strictEqual(cellText(false), "no");
    assert.strictEqual(cellText("fc1/kernel"), "fc1/kernel");
    assert.strictEqual(cellText([1, 2]), "[1,2]");
  });
});

describe("core/table: headers", () => {
  const cases: [string, string][] = [
    ["p50Ms", "p50 ms"],
    ["p50ms_b32", "p50 ms (batch 32)"],
    ["latencyRatio_b1", "latency ratio (batch 1)"],
    ["nonZeros", "non-zeros"],
    ["gzipKB", "gzip KB"],
    ["MFLOPs", "MFLOPs"],
    ["MACs", "MACs"],
    ["float32Bytes", "float32 bytes"],
    ["activationBytes", "activation bytes"],
    ["overheadPct", "overhead %"],
    ["sqnrDb", "SQNR dB"],
    ["quantKB", "quantized KB"],
    ["huffmanGapBits", "Huffman gap bits"],
    ["fc1MSE", "fc1 MSE"],
    ["exampleOnlyL1", "example only L1"],
    ["accuracyDeltaPP", "accuracy delta pp"],
    ["corrected_floor", "corrected floor"],
    ["vsOriginal", "vs original"],
    ["layer", "layer"],
    ["T", "T"],
  ];
  for (const [key, want] of cases) it(`${key} → "${want}"`, () => assert.strictEqual(headerText(key), want));

  it("leaves keys that are already words or symbols alone", () => {
    for (const k of ["error %", "× pruned", "paper kept %", "Huffman KB", "b<c>"]) assert.strictEqual(headerText(k), k);
  });
});

describe("core/table: tables", () => {
  const rows = [
    { layer: "fc1", nonZeros: 23520, sparsity: 0.899999976158, huffmanKB: null, note: undefined },
    { layer: "(total)", nonZeros: 26620, sparsity: NaN, huffmanKB: 12.3456 },
  ];

  it("tableBundle's HTML has word headers, no index column and no NaN / null / undefined", () => {
    const html = String(tableBundle(rows)["text/html"]);
    assert.strictEqual(
      html,
      '<table class="dataframe"><thead><tr><th>layer</th><th>non-zeros</th><th>sparsity</th><th>Huffman KB</th><th>note</th></tr></thead>' +
        "<tbody><tr><td>fc1</td><td>23,520</td><td>0.9</td><td>–</td><td>–</td></tr>" +
        "<tr><td>(total)</td><td>26,620</td><td>–</td><td>12.35</td><td>–</td></tr></tbody></table>"
    );
    assert.doesNotMatch(html, /NaN|null|undefined/);
  });

  it("tableBundle's text is the same cells aligned, numbers to the right", () => {
    assert.strictEqual(
      String(tableBundle(rows)["text/plain"]),
      ["layer    non-zeros  sparsity  Huffman KB  note", "fc1         23,520       0.9           –  –", "(total)     26,620         –       12.35  –"].join("\n")
    );
  });

  it("htmlTable keeps a DataFrame's index column when given one", () => {
    assert.strictEqual(
      htmlTable(["testAccuracy"], ["a"], [[0.98765]]),
      '<table class="dataframe"><thead><tr><th></th><th>test accuracy</th></tr></thead><tbody><tr><th>a</th><td>0.9877</td></tr></tbody></table>'
    );
  });

  it("plainTable of no rows is the header line", () => {
    assert.strictEqual(plainTable(["p50Ms", "layer"], []), "p50 ms  layer");
  });

  it("toDataFrame keeps the keys and the full values (missing keys become null)", () => {
    const df = toDataFrame(rows);
    assert.deepStrictEqual(df.columns, ["layer", "nonZeros", "sparsity", "huffmanKB", "note"]);
    const values = df.values as unknown[][];
    assert.strictEqual(values[0][2], 0.899999976158);
    assert.strictEqual(values[1][4], null);
  });
});
