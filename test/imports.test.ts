import { strict as assert } from "assert";
import * as path from "path";
import { importCycles, importGraph, importsOf } from "./support/imports";

const root = path.resolve(__dirname, "..", "..");

describe("imports", () => {
  it("reads every form of relative import and finds cycles, self-imports included", () => {
    const src = ['import * as tf from "@tensorflow/tfjs";', 'import { a, b } from "./a";', 'import type { T } from "../t";', 'export { c } from "./c";', 'export * from "./d";', 'import "./side";'].join("\n");
    assert.deepEqual(importsOf(src), ["./a", "../t", "./c", "./d", "./side"]);
    const g = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts", "d.ts"]],
      ["d.ts", []],
      ["e.ts", ["e.ts"]],
    ]);
    assert.deepEqual(importCycles(g), [["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
    assert.deepEqual(importCycles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
  });

  it("plugins/ and kernel/ have no import cycle (type-only imports count)", () => {
    const g = importGraph(root, ["plugins", "kernel"]);
    assert.ok(g.size > 100 && (g.get("plugins/quantize/qat.ts") ?? []).includes("plugins/quantize/centroids.ts"), "the graph was read");
    assert.deepEqual(importCycles(g), []);
  });

  it("plugins/ never imports kernel/", () => {
    const g = importGraph(root, ["plugins"]);
    const offenders = [...g].flatMap(([file, deps]) => deps.filter((d) => d.startsWith("kernel/")).map((d) => `${file} → ${d}`));
    assert.deepEqual(offenders, []);
  });
});
