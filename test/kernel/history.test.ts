/**
 * history_request (messaging spec 5.3, "History"): tail, range and glob
 * search over this session's cells, with and without outputs.
 */
import { strict as assert } from "assert";
import { History } from "../../kernel/history";

function sample(): History {
  const h = new History(1);
  const cells = ["1 + 1", "const a = 2", "a * 3", "1 + 1", "x.y?", "console.log(a)"];
  cells.forEach((c, i) => h.add(i + 1, c));
  h.setOutput(1, "2");
  h.setOutput(3, "6");
  h.setOutput(4, "2");
  return h;
}

describe("kernel/history", () => {
  it("tail gives the last n entries as [session, line, input]", () => {
    const h = sample();
    assert.deepEqual(h.query({ hist_access_type: "tail", n: 2 }), [
      [1, 5, "x.y?"],
      [1, 6, "console.log(a)"],
    ]);
    assert.equal(h.query({ hist_access_type: "tail" }).length, 6);
    assert.equal(h.query({}).length, 6, "tail is the default");
    assert.equal(h.query({ hist_access_type: "tail", n: 100 }).length, 6);
  });

  it("n = 0 gives nothing (as IPython's LIMIT 0), not everything", () => {
    const h = sample();
    assert.deepEqual(h.query({ hist_access_type: "tail", n: 0 }), []);
    assert.deepEqual(h.query({ hist_access_type: "search", pattern: "*", n: 0 }), []);
  });

  it("output: true pairs each input with its result text, or null", () => {
    assert.deepEqual(sample().query({ hist_access_type: "tail", n: 3, output: true }), [
      [1, 4, ["1 + 1", "2"]],
      [1, 5, ["x.y?", null]],
      [1, 6, ["console.log(a)", null]],
    ]);
  });

  it("range is start inclusive, stop exclusive", () => {
    const h = sample();
    assert.deepEqual(
      h.query({ hist_access_type: "range", session: 0, start: 2, stop: 4 }).map((e) => e[1]),
      [2, 3],
    );
    assert.deepEqual(
      h.query({ hist_access_type: "range", start: 5 }).map((e) => e[1]),
      [5, 6],
    );
  });

  it("search matches globs over the whole input: * any run, ? one character", () => {
    const h = sample();
    assert.deepEqual(
      h.query({ hist_access_type: "search", pattern: "1 +*" }).map((e) => e[1]),
      [1, 4],
    );
    assert.deepEqual(
      h.query({ hist_access_type: "search", pattern: "a ? 3" }).map((e) => e[2]),
      ["a * 3"],
    );
    assert.deepEqual(h.query({ hist_access_type: "search", pattern: "const" }), [], "no implicit wildcards");
  });

  it("search treats regex characters in the pattern literally", () => {
    const h = sample();
    assert.deepEqual(
      h.query({ hist_access_type: "search", pattern: "x.y?" }).map((e) => e[2]),
      ["x.y?"],
    );
    assert.deepEqual(h.query({ hist_access_type: "search", pattern: "console.log(*)" }).map((e) => e[1]), [6]);
    assert.deepEqual(h.query({ hist_access_type: "search", pattern: "console?log[a]" }), []);
  });

  it("search with unique keeps the latest of repeated inputs, in order, and n keeps the last n", () => {
    const h = sample();
    assert.deepEqual(
      h.query({ hist_access_type: "search", pattern: "*", unique: true }).map((e) => e[1]),
      [2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      h.query({ hist_access_type: "search", pattern: "*", unique: true, n: 2 }).map((e) => e[1]),
      [5, 6],
    );
    assert.deepEqual(h.query({ hist_access_type: "search", pattern: "1 +*", output: true, n: 1 }), [[1, 4, ["1 + 1", "2"]]]);
  });
});
