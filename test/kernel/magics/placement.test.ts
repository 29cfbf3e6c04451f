/**
 * Where a magic may stand (at a statement start: line start, after `{`,
 * `;`, `=>`; as the value of `=` and `return`) and where `%` stays
 * TypeScript's; where a magic's arguments end; Unicode identifiers as
 * arguments; the code of %time and %timeit.
 */
import { strict as assert } from "assert";
import { isSlimlabError } from "../../../plugins/core/errors";
import { expandCell, isMagicLine } from "../../../kernel/magics/expand";
import { call, IMPORT, registry } from "./fixtures";

/** The call without `await`, as the body of an arrow gets it. */
const bare = (name: string, args: string, flags: string, line: string) => call(name, args, flags, line).replace(/^await /, "");

const placed: [string, string, string][] = [
  ["after { on the same line", "if (ok) { %probe m }", `if (ok) { ${call("probe", "m", "", "%probe m")} }`],
  ["after { with a declaration", "{ const q = %probe m -s 0.5", `{ const q = ${call("probe", "m", '"sparsity": 0.5', "%probe m -s 0.5")};`],
  ["after ;", "let a = 1; %probe m", `let a = 1; ${call("probe", "m", "", "%probe m")};`],
  ["two magics on one line, separated by ;", "%probe a; %probe b", `${call("probe", "a", "", "%probe a")}; ${call("probe", "b", "", "%probe b")};`],
  ["a trailing ; ends the arguments", "const q = %probe m --sparsity 0.5;", `const q = ${call("probe", "m", '"sparsity": 0.5', "%probe m --sparsity 0.5")};`],
  ["as the value of an assignment mid-line", "let q; q = %probe m", `let q; q = ${call("probe", "m", "", "%probe m")};`],
  ["as the value of a typed declaration", "const q: Model = %probe m", `const q: Model = ${call("probe", "m", "", "%probe m")};`],
  ["as the value of =, on the next line", "const q =\n  %probe m", `const q =\n  ${call("probe", "m", "", "%probe m")};`],
  ["after return", "function f() { return %probe m }", `function f() { return ${call("probe", "m", "", "%probe m")} }`],
  ["as the body of =>, which gives the promise (no await)", "const ps = xs.map((m) => %probe m)", `const ps = xs.map((m) => ${bare("probe", "m", "", "%probe m")})`],
  ["as the body of an async arrow", "const f = async (m) => %probe m", `const f = async (m) => ${bare("probe", "m", "", "%probe m")}`],
  ["in an arrow's block", "xs.forEach(async (m) => { %probe m })", `xs.forEach(async (m) => { ${call("probe", "m", "", "%probe m")} })`],
  ["inside a template literal's ${...} block", "const s = `${(() => { %lsmagic })()}`", `const s = \`\${(() => { ${call("lsmagic", "", "", "%lsmagic")} })()}\``],
  ["a `{expr}` argument holding } and ;", 'if (ok) { %probe {f("}", 1); } }', `if (ok) { ${call("probe", '(f("}", 1); )', "", '%probe {f("}", 1); }')} }`],
  ["a word's own brackets stay in it", "g(() => %probe a.b[0])", `g(() => ${bare("probe", "a.b[0]", "", "%probe a.b[0]")})`],
  ["%name? after {", "if (x) { %probe? }", `if (x) { $slimlab.magicHelp("probe") }`],
];

const timed: [string, string, string][] = [
  ["%time gives its code's value", "const v = %time f(1)", `const v = ${call("time", "async () => { return (f(1)); }", "", "%time f(1)")};`],
  ["%time of statements gives the last expression's value", "%time a(); b()", `${call("time", "async () => { a(); return (b()); }", "", "%time a(); b()")};`],
  ["%time of an assignment gives nothing, as in IPython", "%time x = f()", `${call("time", "async () => { x = f() }", "", "%time x = f()")};`],
  ["%time of a declaration gives nothing", "%time const y = 2", `${call("time", "async () => { const y = 2 }", "", "%time const y = 2")};`],
  ["%time's code ends at a } it did not open", "if (ok) { %time f({a: 1}) }", `if (ok) { ${call("time", "async () => { return (f({a: 1})); }", "", "%time f({a: 1})")} }`],
  ["%timeit's code takes ; and runs to the end of the line", "%timeit -n 1 f(); g()", `${call("timeit", "async () => { f(); g() }", '"n": 1', "%timeit -n 1 f(); g()")};`],
  ["%timeit's code ends at a ) it did not open", "run(() => %timeit -q f(x))", `run(() => ${bare("timeit", "async () => { f(x) }", '"quiet": true', "%timeit -q f(x)")})`],
  ["%timeit's code may go on over lines inside brackets", "%timeit -n 1 f(1,\n  2)\nx", `${call("timeit", "async () => { f(1,\n  2) }", '"n": 1', "%timeit -n 1 f(1,\n  2)")};\nx`],
  ["a regular expression in %time's code", "%time /\\)/.test(s)", `${call("time", "async () => { return (/\\)/.test(s)); }", "", "%time /\\)/.test(s)")};`],
];

const unicode: [string, string, string][] = [
  ["a CJK variable name", "%probe 模型 --sparsity 0.5", `${call("probe", "模型", '"sparsity": 0.5', "%probe 模型 --sparsity 0.5")};`],
  ["$name and {expr} with CJK names", "const p = %probe $模型 --data $数据.训练 --label {名字}", `const p = ${call("probe", "(模型)", '"data": (数据.训练), "label": (名字)', "%probe $模型 --data $数据.训练 --label {名字}")};`],
  ["names with $, _, accents, and a path", "%probe a$b _c ünïcödé Ωμέγα.βήτα[2]", `${call("probe", "a$b, _c, ünïcödé, Ωμέγα.βήτα[2]", "", "%probe a$b _c ünïcödé Ωμέγα.βήτα[2]")};`],
  ["an astral-plane identifier", "%probe 𝑥 $𝑦", `${call("probe", "𝑥, (𝑦)", "", "%probe 𝑥 $𝑦")};`],
  ["a name with a zero-width joiner (ID_Continue)", "%probe a\u200db", `${call("probe", "a\u200db", "", "%probe a\u200db")};`],
  ["a magic after a Unicode declaration", "const 模型 = 1; %probe 模型", `const 模型 = 1; ${call("probe", "模型", "", "%probe 模型")};`],
];

/** `%` that is TypeScript's: the cell is left byte for byte. */
const typescript: [string, string][] = [
  ["x %= 3", "let x = 7; x %= 3"],
  ["a modulo after a closing parenthesis", "const r = (a + b) %probe"],
  ["a modulo mid-line after a number", "const r = 10 %probe"],
  ["an argument position is no statement start", "f(%probe m)"],
  ["a conditional's branch is no statement start", "const r = c ? %probe m : 1"],
  ["% inside a regular expression after =", "const re = /;%probe m/g"],
  ["% inside a regular expression after (", "s.replace(/{ %probe m }/, '')"],
  ["% in a template literal's text", "const s = `a = %probe m; { %probe x }`"],
  ["% in a template literal after ${...}", "const s = `${a}; %probe m`"],
  ["% in a string after {", "const o = { s: '; %probe m' }"],
  ["% in a block comment after {", "if (a) { /* %probe m */ }"],
  ["% in a line comment after ;", "a(); // %probe m"],
  ["a division by a regex-looking value", "const q = a / b; const r = q % 2"],
  ["an unknown name continuing the line before", "const t = a\n%b"],
];

const errors: [string, string, string][] = [
  ["an unknown magic after {", "if (a) { %probee m }", "unknown magic %probee (did you mean %probe?); %lsmagic lists them"],
  ["an unknown magic as a value", "const q = %nosuch m", "unknown magic %nosuch; %lsmagic lists them"],
  ["an unknown magic after =>", "xs.map((m) => %sise m)", "unknown magic %sise (did you mean %size?); %lsmagic lists them"],
  ["a bad value after ;", "let a = 1; %probe m --sparsity 2", '%probe: --sparsity got "2"; expected a number >= 0 and <= 1'],
  ["a word that is no identifier", "%probe 1a", '%probe: argument "1a" is not a variable name; write a name, $name, {expression} or a quoted string'],
];

describe("kernel/magics placement", () => {
  const reg = registry();
  const check = (cell: string, expected: string) => {
    const e = expandCell(cell, reg);
    assert.equal(e.code, `${IMPORT}${expected}`);
    assert.equal(e.code.split("\n").length, cell.split("\n").length, "the expansion keeps the cell's lines");
  };

  describe("a magic stands at a statement start or as an assigned value", () => {
    for (const [title, cell, code] of placed) it(title, () => check(cell, code));
  });

  describe("the code of %time and %timeit", () => {
    for (const [title, cell, code] of timed) it(title, () => check(cell, code));
  });

  describe("Unicode identifiers as arguments", () => {
    for (const [title, cell, code] of unicode) it(title, () => check(cell, code));
  });

  describe("% stays TypeScript's anywhere else", () => {
    for (const [title, cell] of typescript) {
      it(title, () => {
        const e = expandCell(cell, reg);
        assert.equal(e.code, cell);
        assert.deepEqual(e.magics, []);
      });
    }
  });

  describe("errors name the magic wherever it stands", () => {
    for (const [title, cell, message] of errors) {
      it(title, () => assert.throws(() => expandCell(cell, reg), (e: unknown) => isSlimlabError(e) && e.message === message));
    }
  });

  it("records the lines that hold magics, once per line", () => {
    const e = expandCell("let a = 1\nif (a) { %probe m }\n%probe a; %probe b\nconst t = a\n% 2", reg);
    assert.deepEqual(e.magics, ["probe", "probe", "probe"]);
    assert.deepEqual(e.magicLines, [1, 2]);
  });

  it("isMagicLine finds magics wherever they stand", () => {
    assert.equal(isMagicLine("if (a) { %probe m }", reg), true);
    assert.equal(isMagicLine("xs.map((m) => %probe m)", reg), true);
    assert.equal(isMagicLine("const r = c ? %probe m : 1", reg), false);
    assert.equal(isMagicLine("x %= 3", reg), false);
  });
});
