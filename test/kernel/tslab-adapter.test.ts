/**
 * Fails loudly when tslab's internals change under kernel/tslab-adapter.ts:
 * the pinned version, the deep modules and the names the adapter uses, and
 * what the converter gives back (including the two inline source maps the
 * adapter asks for, which runtime errors need to name the user's line).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createModuleResolver } from "../../kernel/modules";
import { SourceMapper } from "../../kernel/sourcemap";
import { Converter, createConverter, isCompleteCode, syntaxErrors, TSLAB_VERSION, TYPESCRIPT_VERSION, withExportsTypes } from "../../kernel/tslab-adapter";
import * as shim from "../../kernel/tslab-shim";

const ROOT = path.resolve(__dirname, "../../..");
const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,/g;

describe("kernel/tslab-adapter (tslab internals)", function () {
  this.timeout(60000);
  let tmp: string;
  let conv: Converter;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-adapter-"));
    conv = createConverter(createModuleResolver(tmp).map);
  });

  after(() => {
    conv?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("tslab is pinned to 1.0.22, in package.json and on disk", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.equal(pkg.dependencies.tslab, "1.0.22");
    assert.equal(TSLAB_VERSION, "1.0.22");
    assert.equal(require("tslab/package.json").version, "1.0.22");
    assert.match(TYPESCRIPT_VERSION, /^\d+\.\d+\.\d+$/);
  });

  it("the deep modules exist and expose what the adapter uses", () => {
    const converter = require("tslab/dist/converter");
    assert.equal(typeof converter.createConverter, "function", "tslab/dist/converter.createConverter");
    assert.equal(typeof converter.isCompleteCode, "function", "tslab/dist/converter.isCompleteCode");
    // The adapter wraps these two TypeScript functions to get source maps.
    const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(require.resolve("tslab/package.json"))] }));
    assert.equal(typeof ts.createWatchCompilerHost, "function");
    assert.equal(typeof ts.transpileModule, "function");
    // ...and expects the second step to transpile a file named "custom.js".
    assert.match(fs.readFileSync(require.resolve("tslab/dist/converter"), "utf8"), /fileName: "custom\.js"/);
  });

  it("converts a cell: output, declarations and the last expression's variable", () => {
    const r = conv.convert("", "const a: number = 1; a");
    assert.deepEqual(r.diagnostics, []);
    assert.ok(r.output, "has output");
    assert.ok(r.lastExpressionVar, "names the last expression's variable");
    assert.match(r.output, new RegExp(`exports\\.${r.lastExpressionVar} = `));
    assert.match(r.declOutput ?? "", /const a: number;/);
    assert.equal(r.hasToplevelAwait, false);
    assert.equal(conv.convert("", "await Promise.resolve(1)").hasToplevelAwait, true);
  });

  it("a cell gets danfojs's types, which its package.json names only under exports", () => {
    const ok = conv.convert("", 'import * as dfd from "danfojs";\nconst df: dfd.DataFrame = new dfd.DataFrame([{ a: 1 }]);\ndf.shape');
    assert.deepEqual(ok.diagnostics, []);
    const bad = conv.convert("", 'import * as dfd from "danfojs";\nconst n: number = new dfd.DataFrame([{ a: 1 }]).columns;');
    assert.equal(bad.diagnostics.length, 1, "columns is a string[], so a type error is expected");
    assert.equal(bad.diagnostics[0].code, 2322);
  });

  it("withExportsTypes adds exports['.'].types as types, and leaves other package.json files as they are", () => {
    const pj = { name: "p", exports: { ".": { types: "./d/index.d.ts", node: "./d/index.js" } } };
    assert.deepEqual(JSON.parse(withExportsTypes(JSON.stringify(pj))), { ...pj, types: "./d/index.d.ts" });
    for (const other of [{ ...pj, types: "./t.d.ts" }, { ...pj, typings: "./t.d.ts" }, { name: "p", exports: "./i.js" }, { name: "p" }]) {
      assert.equal(withExportsTypes(JSON.stringify(other)), JSON.stringify(other));
    }
    assert.equal(withExportsTypes("{ not json"), "{ not json");
  });

  it("type errors come back as diagnostics with line, character and code", () => {
    const r = conv.convert("", "const ok = 1;\nlet x: number = 'str'");
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0];
    assert.equal(d.start.line, 1);
    assert.equal(d.start.character, 4);
    assert.equal(d.code, 2322);
    assert.equal(d.messageText, "Type 'string' is not assignable to type 'number'.");
  });

  it("the output carries inline source maps from both conversion steps", () => {
    const r = conv.convert("", "const b = 1;\nthrow new Error('x')");
    const output = r.output ?? "";
    assert.equal([...output.matchAll(INLINE_MAP)].length, 2);
    const mapper = SourceMapper.fromOutput(output);
    assert.ok(mapper);
    assert.equal((mapper as unknown as { maps: unknown[] }).maps.length, 2);
    // The throw maps back to the user's line 2 (0-based 1).
    const lines = output.split("\n");
    const at = lines.findIndex((l) => l.includes("throw new Error"));
    assert.ok(at >= 0);
    assert.deepEqual(mapper.original(at, lines[at].indexOf("throw")), { line: 1, column: 0 });
  });

  it("isCompleteCode tells open code from complete code", () => {
    assert.equal(isCompleteCode("1 + 1").completed, true);
    assert.equal(isCompleteCode("function f() {").completed, false);
    assert.equal(isCompleteCode("const a = [1,").completed, false);
  });

  it("syntaxErrors parses without type-checking", () => {
    assert.deepEqual(syntaxErrors("const a = 1; await a; a.b"), []);
    assert.deepEqual(syntaxErrors("let 3x = ;").slice(0, 1), ["An identifier or keyword cannot immediately follow a numeric literal."]);
  });

  it("the \"tslab\" module of cells (tslab-shim.ts) has every function of tslab's public API", () => {
    const pub = require("tslab/dist/public");
    assert.deepEqual(Object.keys(pub).filter((k) => k !== "__esModule").sort(), Object.keys(shim).filter((k) => k !== "__esModule" && k !== "Display").sort());
    const methods = (o: object) => Object.getOwnPropertyNames(Object.getPrototypeOf(o)).filter((k) => k !== "constructor").sort();
    assert.deepEqual(methods(shim.display), methods(pub.display));
    assert.deepEqual(Object.keys(shim.versions).sort(), Object.keys(pub.versions).sort());
    assert.deepEqual(shim.versions, pub.versions);
  });
});
