/**
 * Tab completion of magic names, flags and choices, wherever a magic may
 * stand; undefined (TypeScript's turn) elsewhere.
 */
import { strict as assert } from "assert";
import { completeMagic } from "../../../kernel/magics/complete";
import { registry } from "./fixtures";

describe("kernel/magics/complete", () => {
  const reg = registry();
  /** Completes at the `|` of `cell`. */
  const at = (cell: string) => {
    const pos = cell.indexOf("|");
    return completeMagic(cell.replace("|", ""), pos, reg);
  };

  it("magic names after % at a line start, after {, ;, = and =>", () => {
    assert.deepEqual(at("%pr|"), { start: 0, end: 3, matches: ["%probe", "%prune"] });
    assert.deepEqual(at("if (a) { %pr|"), { start: 9, end: 12, matches: ["%probe", "%prune"] });
    assert.deepEqual(at("a(); %ti|"), { start: 5, end: 8, matches: ["%time", "%timeit"] });
    assert.deepEqual(at("const 模型 = %ti|"), { start: 11, end: 14, matches: ["%time", "%timeit"] });
    assert.deepEqual(at("xs.map((m) => %si|"), { start: 14, end: 17, matches: ["%size"] });
    assert.ok((at("x = %|")?.matches.length ?? 0) > 10, "every magic after a bare %");
  });

  it("cell magic names after %% on the first line", () => {
    assert.deepEqual(at("%%tim|"), { start: 0, end: 5, matches: ["%%time", "%%timeit"] });
    assert.deepEqual(at("%%s|"), { start: 0, end: 3, matches: ["%%sh"] }, "only magics a cell may start with (not %summary, %system, %sx)");
  });

  it("a cell-only magic is offered as %%name at the cell's start, and not where only a line magic may stand", () => {
    assert.deepEqual(at("  %wr|"), { start: 2, end: 5, matches: ["%%writefile"] });
    assert.deepEqual(at("%ba|"), { start: 0, end: 3, matches: ["%backend", "%backends", "%%bash"] });
    assert.deepEqual(at("x = 1\n%ba|"), { start: 6, end: 9, matches: ["%backend", "%backends"] });
    assert.deepEqual(at("if (a) { %wr|"), { start: 9, end: 12, matches: [] });
  });

  it("flags after -, with -o for magics that declare output", () => {
    assert.deepEqual(at("%probe m --sp|"), { start: 9, end: 13, matches: ["--sparsity"] });
    assert.deepEqual(at("if (a) { const f = %fit m --|"), { start: 26, end: 28, matches: ["--rate", "--data", "--epochs", "--output"] });
    assert.deepEqual(at("%%timeit -|"), { start: 9, end: 10, matches: ["--n", "--r", "--quiet", "--output"] });
  });

  it("choices after a choice flag, typed or not", () => {
    assert.deepEqual(at("%probe m --mode |"), { start: 16, end: 16, matches: ["weight", "filter"] });
    assert.deepEqual(at("%probe m --mode fi|"), { start: 16, end: 18, matches: ["filter"] });
  });

  it("leaves TypeScript's positions to TypeScript", () => {
    assert.equal(at("const r = a %pr|"), undefined, "a modulo");
    assert.equal(at("%timeit -n 1 f(x.le|"), undefined, "inside a code argument");
    assert.equal(at("%probe m; x.le|"), undefined, "after the magic ended");
    assert.equal(at("const s = '%pr|"), undefined, "in a string");
  });
});
