/**
 * Every notebook (markdown and code cells), README.md and docs/*.md cites
 * only what a reader of the repository can open: repository files and
 * folders that exist (tracked by git), anchors that exist in this
 * repository's markdown, and never the project's private notes or the
 * article texts. The checker itself is tested first, on made-up text, so
 * that a checker that finds nothing cannot pass silently.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Repo, anchorsOf, checkCitations, headingSlug, notebookCells, repoAt } from "./citations";

const ROOT = path.resolve(__dirname, "../../..");

/** A made-up repository: a few files, one markdown file with anchors. */
function fakeRepo(): Repo {
  const files: Record<string, string> = {
    "README.md": "# Demo\n",
    "docs/references.md": '<a id="han-2015"></a>\n### Han et al. 2015 — pruning\n## The five articles\n',
    "bench/quantize.ts": "",
    "notebooks/01-a.ipynb": "{}",
    "plugins/core/table.ts": "",
  };
  const dirs = new Set(Object.keys(files).flatMap((f) => f.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/"))));
  return {
    has: (rel) => rel.replace(/\/+$/, "") in files || dirs.has(rel.replace(/\/+$/, "")),
    read: (rel) => files[rel],
  };
}

const cited = (text: string, dir = "") => checkCitations(text, "fake", dir, fakeRepo()).map((v) => v.cited);

describe("docs: the citation checker (on made-up text)", () => {
  it("passes citations of files, folders and anchors that exist", () => {
    const text = [
      "See docs/references.md#han-2015 and docs/references.md#the-five-articles,",
      "the benchmark `bench/quantize.ts` (run node dist/bench/quantize.js), plugins/core/table.ts,",
      "notebooks/01-a.ipynb, everything under bench/, and README.md.",
      "[the paper](https://arxiv.org/abs/1506.02626), [up](#local-anchor), [refs](docs/references.md#han-2015).",
    ].join("\n");
    assert.deepStrictEqual(cited(text), []);
  });

  it("fails on REFERENCES.md, seeds/ and absolute machine paths, wherever they appear", () => {
    assert.deepStrictEqual(cited("numbers from REFERENCES.md; article seeds/002_x.txt; /work/shared/REFERENCES.md"), [
      "REFERENCES.md",
      "REFERENCES.md",
      "seeds/",
      "/work/shared",
    ]);
  });

  it("fails on repository paths and anchors that do not exist, naming what is missing", () => {
    const v = checkCitations("docs/nope.md, bench/gone.ts. docs/references.md#no-such-anchor", "fake", "", fakeRepo());
    assert.deepStrictEqual(v.map((x) => x.cited), ["docs/nope.md", "bench/gone.ts", "docs/references.md#no-such-anchor"]);
    assert.match(v[0].why, /docs\/nope\.md is not a file or folder of the repository/);
    assert.match(v[2].why, /has no anchor #no-such-anchor/);
  });

  it("resolves relative markdown links against the citing file's folder", () => {
    assert.deepStrictEqual(cited("[refs](../docs/references.md#han-2015)", "notebooks"), []);
    assert.deepStrictEqual(cited("[refs](docs/references.md)", "notebooks"), ["docs/references.md"]);
    assert.deepStrictEqual(cited("[x](missing.md) [y](<../bench/quantize.ts>)", "notebooks"), ["missing.md"]);
  });

  it("does not read paths inside other paths as citations (dist/bench/x.js, out/...)", () => {
    assert.deepStrictEqual(cited("node dist/bench/training.js > out/notebooks/x; node_modules/plugins/y"), []);
    assert.deepStrictEqual(cited("trains at ~60 examples/s; bench/quantize"), [], "a rate and an extensionless name are not file citations");
  });

  it("finds anchors as GitHub makes them", () => {
    assert.strictEqual(headingSlug("Han, Mao & Dally 2016 — Deep Compression"), "han-mao--dally-2016--deep-compression");
    assert.ok(anchorsOf('<a id="x-1"></a>\n## A b\n').has("x-1"));
    assert.ok(anchorsOf('<a id="x-1"></a>\n## A b\n').has("a-b"));
  });
});

describe("docs: notebooks, README.md and docs/*.md cite only what is in the repository", () => {
  const repo = repoAt(ROOT);
  const notebooks = fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
  const docs = fs.existsSync(path.join(ROOT, "docs")) ? fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort() : [];

  it("docs/references.md exists (the one place notebooks cite papers and articles)", () => {
    assert.ok(repo.has("docs/references.md"), "docs/references.md is missing or not tracked by git");
  });

  for (const nb of notebooks) {
    it(`notebooks/${nb}`, () => {
      const file = `notebooks/${nb}`;
      const bad = notebookCells(fs.readFileSync(path.join(ROOT, file), "utf8"), file).flatMap(([label, text]) => checkCitations(text, label, "notebooks", repo));
      assert.deepStrictEqual(bad.map((v) => `${v.source}: ${v.cited}: ${v.why}`), []);
    });
  }

  for (const md of ["README.md", ...docs.map((d) => `docs/${d}`)]) {
    it(md, () => {
      const bad = checkCitations(fs.readFileSync(path.join(ROOT, md), "utf8"), md, path.posix.dirname(md) === "." ? "" : path.posix.dirname(md), repo);
      assert.deepStrictEqual(bad.map((v) => `${v.source}: ${v.cited}: ${v.why}`), []);
    });
  }
});
