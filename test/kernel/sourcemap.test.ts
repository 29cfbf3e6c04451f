/**
 * Source Map v3 "mappings" (base64 VLQ) decoding, and composing the two
 * inline maps of tslab's two conversion steps back to the user's line.
 */
import { strict as assert } from "assert";
import { decodeMappings, SourceMapper } from "../../kernel/sourcemap";

const inline = (mappings: string) =>
  `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify({ version: 3, sources: ["x"], names: [], mappings })).toString("base64")}`;

describe("kernel/sourcemap", () => {
  it("decodes a known mappings string (relative fields, sign bit, continuation digits)", () => {
    // A = 0, C = +1, D = -1, E = +2, S = +9, gB = +16 (g: 0 with the continuation bit, B: 1 << 5).
    // Columns restart on each generated line; source line and column carry over.
    assert.deepEqual(decodeMappings("AAAA,SAAS;AACA,gBAAgB;;EAAE,CADD"), [
      [
        { col: 0, srcLine: 0, srcCol: 0 },
        { col: 9, srcLine: 0, srcCol: 9 },
      ],
      [
        { col: 0, srcLine: 1, srcCol: 9 },
        { col: 16, srcLine: 1, srcCol: 25 },
      ],
      [],
      [
        { col: 2, srcLine: 1, srcCol: 27 },
        { col: 3, srcLine: 0, srcCol: 26 },
      ],
    ]);
  });

  it("skips one-field segments (a generated column with no source)", () => {
    assert.deepEqual(decodeMappings("AAAA,K,CAAC"), [
      [
        { col: 0, srcLine: 0, srcCol: 0 },
        { col: 6, srcLine: 0, srcCol: 1 },
      ],
    ]);
  });

  it("decodes a value spread over three digits (2gC = +1035)", () => {
    // "2gC": 2 = 54 (22 | continuation), g = 32 (0 | continuation), C = 2 -> 22 + (0 << 5) + (2 << 10) = 2070 -> +1035.
    assert.deepEqual(decodeMappings("2gCAAA"), [[{ col: 1035, srcLine: 0, srcCol: 0 }]]);
  });

  it("composes the two steps' maps, outermost (last in the output) first, and drops the prefix line", () => {
    // Step 1 (first in the output): its line 1 comes from TypeScript line 2.
    // Step 2 (last): the final line 0 comes from step 1's line 1.
    const output = ["run();", inline(";AAEA"), inline("AACA")].join("\n");
    const mapper = SourceMapper.fromOutput(output);
    assert.ok(mapper);
    // TypeScript line 2, minus the one `export {};` line tslab puts first: cell line 1 (0-based).
    assert.deepEqual(mapper.original(0, 4), { line: 1, column: 0 });
    assert.equal(mapper.original(5, 0), undefined, "an unmapped line");
    assert.deepEqual(SourceMapper.fromOutput(output, 0)?.original(0, 0), { line: 2, column: 0 });
  });

  it("no inline map, no mapper", () => {
    assert.equal(SourceMapper.fromOutput("run();"), undefined);
  });

  it("picks the last segment at or before the column", () => {
    const mapper = SourceMapper.fromOutput(inline("AAAA,UAAE,UAAE"), 0);
    assert.ok(mapper);
    assert.deepEqual(mapper.original(0, 0), { line: 0, column: 0 });
    assert.deepEqual(mapper.original(0, 11), { line: 0, column: 2 });
    assert.deepEqual(mapper.original(0, 25), { line: 0, column: 4 });
  });
});
