/**
 * Magic-line parsing, table-driven: what each cell expands to, what is left
 * exactly as written (plain TypeScript that merely contains `%`), and the
 * exact usage errors of bad magic lines.
 */
import { strict as assert } from "assert";
import { ErrorCode, isSlimlabError } from "../../../plugins/core/errors";
import { defineMagic, MagicSpec } from "../../../plugins/core/magic";
import { expandCell, isMagicLine } from "../../../kernel/magics/expand";
import { call, IMPORT, registry } from "./fixtures";

interface Case {
  title: string;
  cell: string;
  /** The expansion, exactly. */
  code: string;
  magics?: string[];
  timeCell?: boolean;
}

const expansions: Case[] = [
  { title: "a bare line magic", cell: "%probe m", code: `${IMPORT}${call("probe", "m", "", "%probe m")};`, magics: ["probe"] },
  {
    title: "a declaration from %timeit -o",
    cell: "const q = %timeit -o f()",
    code: `${IMPORT}const q = ${call("timeit", "async () => { f() }", '"output": true', "%timeit -o f()")};`,
    magics: ["timeit"],
  },
  {
    title: "a declaration with a type annotation",
    cell: "let t: TimeitResult = %timeit -q -o -n 3 g(1, 2)",
    code: `${IMPORT}let t: TimeitResult = ${call("timeit", "async () => { g(1, 2) }", '"quiet": true, "output": true, "n": 3', "%timeit -q -o -n 3 g(1, 2)")};`,
  },
  {
    title: "an assignment to an existing name and a property",
    cell: "x = %probe m --sparsity=0.5\nobj.y = %probe m",
    code: `${IMPORT}x = ${call("probe", "m", '"sparsity": 0.5', "%probe m --sparsity=0.5")};\nobj.y = ${call("probe", "m", "", "%probe m")};`,
  },
  {
    title: "magics indented inside a block and a loop keep their indentation",
    cell: "if (ok) {\n  %probe m -s 0.25\n}\nfor (const k of ks) {\n\t\tconst r = %probe {k} -x\n}",
    code:
      `${IMPORT}if (ok) {\n  ${call("probe", "m", '"sparsity": 0.25', "%probe m -s 0.25")};\n}\n` +
      `for (const k of ks) {\n\t\tconst r = ${call("probe", "(k)", '"strip": true', "%probe {k} -x")};\n}`,
    magics: ["probe", "probe"],
  },
  {
    title: "code around a magic line is kept as written",
    cell: "let y = 2\n%probe m\ny",
    code: `${IMPORT}let y = 2\n${call("probe", "m", "", "%probe m")};\ny`,
  },
  {
    title: "%%time runs the body in the notebook's scope",
    cell: "%%time\nconst b = 1\nb",
    code: "\nconst b = 1\nb",
    magics: ["time"],
    timeCell: true,
  },
  {
    title: "%%timeit puts the body in the closure, on its own lines",
    cell: "%%timeit -n 2 -r 3\nf()\ng()",
    // U+2028 ends the body's last line for JavaScript without adding a "\n" line.
    code: `${IMPORT}await $slimlab.runMagic("timeit", [async () => {\nf()\ng()\u2028}], {"n": 2, "r": 3}, "%%timeit -n 2 -r 3");`,
    magics: ["timeit"],
  },
  { title: "%name? shows help", cell: "%probe?", code: `${IMPORT}$slimlab.magicHelp("probe");` },
  { title: "%name?? shows help", cell: "%probe??", code: `${IMPORT}$slimlab.magicHelp("probe");` },
  { title: "%name --help shows help, whatever else is on the line", cell: "%probe m --help", code: `${IMPORT}$slimlab.magicHelp("probe");` },
  { title: "%%name? shows help", cell: "%%timeit?\nf()", code: `${IMPORT}$slimlab.magicHelp("timeit");\nf()` },
  {
    title: "{expr} and $name interpolate notebook values",
    cell: "%probe {a + {b: 1}.b} $m.x --data $ds --sparsity {s / 2}",
    code: `${IMPORT}${call("probe", "(a + {b: 1}.b), (m.x)", '"data": (ds), "sparsity": (s / 2)', "%probe {a + {b: 1}.b} $m.x --data $ds --sparsity {s / 2}")};`,
  },
  {
    title: "quoted strings group words and unescape",
    cell: `%probe "a b" 'it\\'s' --label "x  y"`,
    code: `${IMPORT}${call("probe", '"a b", "it\'s"', '"label": "x  y"', `%probe "a b" 'it\\'s' --label "x  y"`)};`,
  },
  {
    title: "numbers (negative, exponent) are literals, names and paths of variables are code",
    cell: "%probe -3 2.5e-3 a.b[0]",
    code: `${IMPORT}${call("probe", "-3, 2.5e-3, a.b[0]", "", "%probe -3 2.5e-3 a.b[0]")};`,
  },
  {
    title: "--flag=value, kebab-case flags, numbers lists, choices and booleans are checked and typed",
    cell: "%probe m --max-steps=4 --bits 2,4,8 --mode filter --strip=false",
    code: `${IMPORT}${call("probe", "m", '"maxSteps": 4, "bits": [2,4,8], "mode": "filter", "strip": false', "%probe m --max-steps=4 --bits 2,4,8 --mode filter --strip=false")};`,
  },
  {
    title: "a trailing // comment after a magic's code stays a comment after the call (but // inside strings is code)",
    cell: '%timeit -n 1 f("http://x", `${a}//b`) // note',
    code: `${IMPORT}${call("timeit", 'async () => { f("http://x", `${a}//b`) }', '"n": 1', '%timeit -n 1 f("http://x", `${a}//b`)')}; // note`,
  },
  {
    title: "a trailing // comment after a magic's arguments stays a comment",
    cell: "%probe m -x // strip too",
    code: `${IMPORT}${call("probe", "m", '"strip": true', "%probe m -x")}; // strip too`,
  },
  {
    title: "-o of a magic that declares output, and {expr} values left to the run-time check",
    cell: "const r = %fit m --data $d --rate {r} -o",
    code: `${IMPORT}const r = ${call("fit", "m", '"data": (d), "rate": (r), "output": true', "%fit m --data $d --rate {r} -o")};`,
  },
  {
    title: "a check between flags skips a flag given as {expr} (it runs again when the line runs)",
    cell: "%fit m --data d --rate {r} --epochs 20",
    code: `${IMPORT}${call("fit", "m", '"data": d, "rate": (r), "epochs": 20', "%fit m --data d --rate {r} --epochs 20")};`,
  },
  {
    title: "a text positional takes the bare word as a string",
    cell: "%open ./data/x.bin",
    code: `${IMPORT}${call("open", '"./data/x.bin"', "", "%open ./data/x.bin")};`,
  },
  {
    title: "a magic that declares argNames also gets its arguments as written: a path, $name's name, {expr}'s code",
    cell: "const c = %compare m $p.q { zoo[0] } 模型 --runs 1",
    code: `${IMPORT}const c = await $slimlab.runMagic("compare", [m, (p.q), ( zoo[0] ), 模型], {"runs": 1}, "%compare m $p.q { zoo[0] } 模型 --runs 1", undefined, ["m","p.q","zoo[0]","模型"]);`,
  },
];

/** Cells that are plain TypeScript: the expansion is the cell, byte for byte. */
const untouched: [string, string][] = [
  ["a modulo continued on the next line", "x\n% 4"],
  ["a modulo by a name that is no magic", "const a = 7, b = 3;\na %b"],
  ["a line starting with %unknown after an expression", "x\n%b"],
  ["a modulo by a name that is a magic, mid-line", "a %probe"],
  ["a plain modulo", "10 % 3"],
  ["a modulo with no spaces", "const r = n%probe"],
  ["% lines inside a template literal", "const s = `\n%probe m\n%%time\n`"],
  ["% lines inside a nested template literal", "const s = `${`\n%probe m\n`}`"],
  ["% lines inside a block comment", "/*\n%probe m\n*/\n1"],
  ["% in a line comment", "// %probe m\n10 % 3"],
  ["% inside a string", 'const s = "%probe m"'],
  ["% on a line continuing a string", 'const s = "a\\\n%probe m"'],
  ["% in a regular-looking expression", "const pct = `${(100 * x) % 7}%`"],
];

interface Bad {
  title: string;
  cell: string;
  code: ErrorCode;
  message: string;
}

const errors: Bad[] = [
  { title: "unknown magic, with a suggestion", cell: "%probee m", code: "E_UNKNOWN_MAGIC", message: "unknown magic %probee (did you mean %probe?); %lsmagic lists them" },
  { title: "unknown magic, nothing close", cell: "%zzzzzz m", code: "E_UNKNOWN_MAGIC", message: "unknown magic %zzzzzz; %lsmagic lists them" },
  { title: "unknown cell magic", cell: "%%tme\nx", code: "E_UNKNOWN_MAGIC", message: "unknown magic %%tme (did you mean %%time?); %lsmagic lists them" },
  {
    title: "unknown flag, with a suggestion",
    cell: "%probe m --sparsty 0.5",
    code: "E_UNKNOWN_FLAG",
    message: "%probe: unknown flag --sparsty (did you mean --sparsity?); allowed: --sparsity --max-steps --mode --strip --bits --data --label",
  },
  {
    title: "unknown short flag",
    cell: "%probe m -q",
    code: "E_UNKNOWN_FLAG",
    message: "%probe: unknown flag -q; allowed: --sparsity --max-steps --mode --strip --bits --data --label",
  },
  { title: "a number flag given a word", cell: "%probe m --sparsity abc", code: "E_ARG", message: '%probe: --sparsity got "abc"; expected a number >= 0 and <= 1' },
  { title: "a number flag out of range", cell: "%probe m -s 2", code: "E_ARG", message: '%probe: --sparsity got "2"; expected a number >= 0 and <= 1' },
  { title: "an integer flag given a fraction", cell: "%probe m --max-steps 1.5", code: "E_ARG", message: '%probe: --max-steps got "1.5"; expected an integer >= 1' },
  { title: "a numbers flag with a word in the list", cell: "%probe m --bits 1,x", code: "E_ARG", message: '%probe: --bits got "1,x"; expected an integer >= 1' },
  { title: "a boolean flag given a word", cell: "%probe m --strip=maybe", code: "E_ARG", message: '%probe: --strip got "maybe"; expected true or false (or the bare flag)' },
  {
    title: "a choice not allowed, with a suggestion",
    cell: "%probe m --mode filtr",
    code: "E_ARG",
    message: '%probe: --mode got "filtr"; expected one of weight, filter (did you mean filter?)',
  },
  { title: "a choice not allowed, nothing close", cell: "%probe m --mode channel", code: "E_ARG", message: '%probe: --mode got "channel"; expected one of weight, filter' },
  { title: "a flag missing its value", cell: "%probe m --sparsity", code: "E_ARG", message: "%probe: --sparsity needs a value (fraction of weights to zero)" },
  { title: "a flag with an empty inline value", cell: "%probe m --sparsity=", code: "E_ARG", message: '%probe: --sparsity got ""; expected a number >= 0 and <= 1' },
  { title: "an unclosed double quote (column in the user's line)", cell: '%probe "m', code: "E_PARSE", message: '%probe: unclosed " starting at column 8; close the quote' },
  { title: "an unclosed single quote after an assignment", cell: "x = %probe m 'abc", code: "E_PARSE", message: "%probe: unclosed ' starting at column 14; close the quote" },
  { title: "an unclosed brace", cell: "%probe {a", code: "E_PARSE", message: "%probe: unclosed { starting at column 8; write {expression}" },
  {
    title: "a word that is no variable",
    cell: "%probe a-b",
    code: "E_ARG",
    message: '%probe: argument "a-b" is not a variable name; write a name, $name, {expression} or a quoted string',
  },
  { title: "%timeit with no code", cell: "%timeit -n 3", code: "E_MISSING_ARG", message: "%timeit: missing the code to run, e.g. %timeit f(x)" },
  { title: "%timeit with only a comment", cell: "%timeit // later", code: "E_MISSING_ARG", message: "%timeit: missing the code to run, e.g. %timeit f(x)" },
  { title: "a line magic used as a cell magic", cell: "%%lsmagic\nx", code: "E_ARG", message: "%%lsmagic is a line magic; write %lsmagic ... on one line" },
  { title: "an argument too many", cell: "%lsmagic extra", code: "E_ARG", message: '%lsmagic: unexpected argument "extra"; usage: %lsmagic' },
  { title: "an argument too many for a text positional", cell: "%open a b", code: "E_ARG", message: '%open: unexpected argument "b"; usage: %open <path>' },
  { title: "a bad magic deep in a cell", cell: "const a = 1\nif (a) {\n  %probe m --mode x\n}", code: "E_ARG", message: '%probe: --mode got "x"; expected one of weight, filter' },
  { title: "a value at an exclusive lower bound", cell: "%fit m --data d --rate 0", code: "E_ARG", message: '%fit: --rate got "0"; expected a number > 0 and < 1' },
  { title: "a value at an exclusive upper bound", cell: "%fit m --data d --rate=1", code: "E_ARG", message: '%fit: --rate got "1"; expected a number > 0 and < 1' },
  { title: "an integer below its minimum", cell: "%fit m --data d --epochs 0", code: "E_ARG", message: '%fit: --epochs got "0"; expected an integer >= 1' },
  {
    title: "a required flag left out",
    cell: "%fit m --rate 0.5",
    code: "E_MISSING_ARG",
    message: "%fit: missing --data (training data); add --data <var>, e.g. const f = %fit m --data train",
  },
  {
    title: "a required argument left out",
    cell: "const f = %fit --data d",
    code: "E_MISSING_ARG",
    message: "%fit: missing <model> (the model); usage: %fit <model> [--rate RATE] --data DATA [--epochs EPOCHS] [--output]",
  },
  {
    title: "the declaration's check between literal flags",
    cell: "%fit m --data d --rate 0.9 --epochs 20",
    code: "E_ARG",
    message: "%fit: --rate 0.9 for 20 epochs goes over 10; lower one of them",
  },
  {
    title: "a bad literal on line 3 fails the cell before lines 1 and 2 could run",
    cell: "let n = 0\nn++\nconst f = %fit m --data d --rate 1.5",
    code: "E_ARG",
    message: '%fit: --rate got "1.5"; expected a number > 0 and < 1',
  },
];

const lineCount = (s: string) => s.split("\n").length;

describe("kernel/magics/expand", () => {
  const reg = registry();

  describe("expands magic lines", () => {
    for (const c of expansions) {
      it(c.title, () => {
        const e = expandCell(c.cell, reg);
        assert.equal(e.code, c.code);
        assert.equal(lineCount(e.code), lineCount(c.cell), "the expansion keeps the cell's line count");
        if (c.magics) assert.deepEqual(e.magics, c.magics);
        assert.equal(e.timeCell, c.timeCell ?? false);
        assert.equal(e.firstLineShift, e.code.startsWith(IMPORT) ? IMPORT.length : 0);
      });
    }
  });

  describe("leaves TypeScript that merely contains % exactly as written", () => {
    for (const [title, cell] of untouched) {
      it(title, () => {
        const e = expandCell(cell, reg);
        assert.equal(e.code, cell);
        assert.deepEqual(e.magics, []);
        assert.deepEqual(e.magicLines, []);
        assert.equal(e.firstLineShift, 0);
      });
    }
  });

  describe("rejects bad magic lines with a code and a one-line message", () => {
    for (const b of errors) {
      it(b.title, () => {
        assert.throws(
          () => expandCell(b.cell, reg),
          (e: unknown) => {
            assert.ok(isSlimlabError(e), `expected a SlimlabError, got ${String(e)}`);
            assert.equal(e.code, b.code);
            assert.equal(e.message, b.message);
            assert.ok(!e.message.includes("\n"));
            return true;
          },
        );
      });
    }
  });

  it("records which lines are magic lines", () => {
    const e = expandCell("const a = 1\n%probe m\nx\n% 2\n  %probe a", reg);
    assert.deepEqual(e.magicLines, [1, 4]);
    assert.deepEqual(e.magics, ["probe", "probe"]);
  });

  it("keeps the line count on long mixed cells", () => {
    const cell = ["%%timeit -n 1", "const s = `", "%probe m", "`", "/* %", "%probe */", "x", "% 3", ""].join("\n");
    assert.equal(lineCount(expandCell(cell, reg).code), lineCount(cell));
  });

  it("isMagicLine knows registered magics only", () => {
    assert.equal(isMagicLine("%probe m", reg), true);
    assert.equal(isMagicLine("  const r = %probe m", reg), true);
    assert.equal(isMagicLine("%%timeit -n 2", reg), true);
    assert.equal(isMagicLine("%nosuch m", reg), false);
    assert.equal(isMagicLine("a % b", reg), false);
  });

  it("argNames: null for literals, text and code; after the body of a cell magic", () => {
    const r = registry();
    const named = { summary: "s", flags: {}, argNames: true, run: () => 1 };
    r.register(defineMagic({ ...named, name: "lab", positional: [{ name: "v", help: "values", variadic: true }] }) as unknown as MagicSpec, "/p.js");
    r.register(defineMagic({ ...named, name: "labtext", positional: [{ name: "f", help: "a file", text: true }, { name: "c", help: "code", code: true }] }) as unknown as MagicSpec, "/p.js");
    r.register(defineMagic({ ...named, name: "labcell", cell: true, positional: [{ name: "v", help: "a value", optional: true }] }) as unknown as MagicSpec, "/p.js");
    assert.equal(expandCell(`%lab a "b" 3 {f(x)}`, r).code, `${IMPORT}await $slimlab.runMagic("lab", [a, "b", 3, (f(x))], {}, "%lab a \\"b\\" 3 {f(x)}", undefined, ["a",null,null,"f(x)"]);`);
    assert.equal(expandCell("%labtext out.txt g(1)", r).code, `${IMPORT}await $slimlab.runMagic("labtext", ["out.txt", async () => { g(1) }], {}, "%labtext out.txt g(1)", undefined, [null,null]);`);
    assert.equal(expandCell("%%labcell w\nbody", r).code, `${IMPORT}await $slimlab.runMagic("labcell", [w], {}, "%%labcell w", "body", ["w"]);\n`);
  });

  it("a plugin magic registered later is recognised at once", () => {
    const r = registry();
    assert.throws(() => expandCell("%later", r), /unknown magic %later/);
    r.register(defineMagic({ name: "later", summary: "s", positional: [], flags: {}, run: () => 1 }) as unknown as MagicSpec, "/p.js");
    assert.equal(expandCell("%later", r).code, `${IMPORT}${call("later", "", "", "%later")};`);
  });
});
