/**
 * Turns a cell with magic lines into plain TypeScript that tslab type-checks
 * and runs. Each magic line becomes one line calling `runMagic`, so line
 * numbers of the user's cell stay where they were (errors point at the
 * user's own lines). Everything that is not a magic line is left exactly as
 * written: `x\n% 4` stays a modulo.
 */
import { SlimlabError, suggestion } from "../../plugins/core/errors";
import { checkFlag, flagName, FlagSpec, MagicSpec, usage } from "../../plugins/core/magic";
import { codeLineStarts } from "./lines";
import { Token, tokenize } from "./tokens";
import { typescript } from "../tslab-adapter";

export interface MagicLookup {
  get(name: string): MagicSpec | undefined;
  names(): string[];
}

/** The name under which expanded cells see the slimlab module. */
export const RUNTIME = "$slimlab";
const IMPORT = `import * as ${RUNTIME} from "slimlab"; `;

export interface Expansion {
  /** The TypeScript to run: same number of lines as the cell. */
  code: string;
  /** Columns added at the start of line 0 (the import), for mapping cursor positions. */
  firstLineShift: number;
  /** `%%time`: the kernel times the whole cell, which runs in the notebook's scope. */
  timeCell: boolean;
  /** Names of the magics used, in order. */
  magics: string[];
  /** The lines that are magic lines (0-based). */
  magicLines: number[];
}

export interface ExpandOptions {
  /**
   * Whether to import the runtime on line 0 (default true). Once a cell with
   * the import has run, the name stays in scope for later cells, and
   * importing "slimlab" again would make every magic cell pay its type-check.
   */
  importRuntime?: boolean;
}

/** A line magic: optional declaration or assignment, `%name`, optional `?`, arguments. */
const LINE_MAGIC = /^(\s*)((?:export\s+)?(?:const|let|var)\s+[A-Za-z_$][\w$]*(?:\s*:\s*[^=]+?)?\s*=\s*|[A-Za-z_$][\w$.]*\s*=\s*|return\s+)?%([A-Za-z_]\w*)(\?{1,2})?(?=\s|$)(.*)$/;
const CELL_MAGIC = /^\s*%%([A-Za-z_]\w*)(\?{1,2})?(?=\s|$)(.*)$/;

/** Whether `line` (from a cell) is a magic line naming a registered magic. */
export function isMagicLine(line: string, lookup: MagicLookup): boolean {
  const m = CELL_MAGIC.exec(line) ?? LINE_MAGIC.exec(line);
  const name = m && (CELL_MAGIC.test(line) ? m[1] : m[3]);
  return !!name && lookup.get(name) !== undefined;
}

/**
 * Expands `src`. Throws SlimlabError (E_UNKNOWN_MAGIC, E_UNKNOWN_FLAG, E_ARG,
 * E_PARSE, E_MISSING_ARG) for a bad magic line, before any of the cell runs.
 */
export function expandCell(src: string, lookup: MagicLookup, options: ExpandOptions = {}): Expansion {
  const importRuntime = options.importRuntime ?? true;
  const lines = src.split("\n");
  const magics: string[] = [];
  const magicLines: number[] = [];
  let timeCell = false;

  const cell = CELL_MAGIC.exec(lines[0]);
  if (cell) {
    const [, name, help, rest] = cell;
    const spec = known(name, lookup, "%%");
    magics.push(name);
    magicLines.push(0);
    const body = lines.slice(1).join("\n");
    if (help || /(^|\s)--help(\s|$)/.test(rest)) {
      lines[0] = `${RUNTIME}.magicHelp(${JSON.stringify(name)});`;
    } else if (name === "time") {
      timeCell = true;
      lines[0] = "";
    } else {
      if (spec.cell !== true) throw new SlimlabError("E_ARG", `%%${name} is a line magic; write %${name} ... on one line`);
      const call = callFor(spec, rest, `%%${name}${rest}`, lines[0].length - rest.length, body);
      // A code body stays on its own lines inside the call's closure; a text
      // body moves into the call as a string and blank lines keep the count.
      const codeBody = spec.positional.some((p) => p.code);
      const out = codeBody ? `await ${call};`.split("\n") : [`await ${call};`, ...lines.slice(1).map(() => "")];
      return finish(out, magics, magicLines, timeCell, importRuntime);
    }
  }

  const starts = codeLineStarts(src);
  for (let i = cell ? 1 : 0; i < lines.length; i++) {
    if (!starts[i]) continue;
    const m = LINE_MAGIC.exec(lines[i]);
    if (!m) continue;
    const [, indent, lhs = "", name, help, rest] = m;
    if (!lookup.get(name)) {
      if (!lhs && continuesExpression(lines, i, starts)) continue; // `a\n%b` is a modulo
      known(name, lookup, "%");
    }
    const spec = lookup.get(name) as MagicSpec;
    magics.push(name);
    magicLines.push(i);
    if (help || /(^|\s)(--help)(\s|$)/.test(rest)) {
      lines[i] = `${indent}${lhs}${RUNTIME}.magicHelp(${JSON.stringify(name)});`;
      continue;
    }
    if (spec.line === false) throw new SlimlabError("E_ARG", `%${name} is a cell magic; write %%${name} on the first line of the cell`);
    lines[i] = `${indent}${lhs}await ${callFor(spec, rest, `%${name}${rest}`, lines[i].length - rest.length)};`;
  }
  return finish(lines, magics, magicLines, timeCell, importRuntime);
}

function finish(lines: string[], magics: string[], magicLines: number[], timeCell: boolean, importRuntime: boolean): Expansion {
  const needsImport = importRuntime && lines.some((l) => l.includes(`${RUNTIME}.`));
  if (needsImport) lines[0] = IMPORT + lines[0];
  return { code: lines.join("\n"), firstLineShift: needsImport ? IMPORT.length : 0, timeCell, magics, magicLines };
}

function known(name: string, lookup: MagicLookup, prefix: string): MagicSpec {
  const spec = lookup.get(name);
  if (!spec) {
    throw new SlimlabError("E_UNKNOWN_MAGIC", `unknown magic ${prefix}${name}${suggestion(name, lookup.names(), prefix)}; %lsmagic lists them`);
  }
  return spec;
}

/** True when line i could continue the previous line's expression (then `%x` is a modulo). */
function continuesExpression(lines: string[], i: number, starts: boolean[]): boolean {
  for (let j = i - 1; j >= 0; j--) {
    const t = lines[j].replace(/\/\/.*$/, "").trim();
    if (!starts[j] && t === "") continue;
    if (t === "") continue;
    return /[\w$)\]'"`]$/.test(t);
  }
  return false;
}

/**
 * Builds the `runMagic(...)` call for one magic line. Literal values are
 * checked here, so a typo fails before anything runs; `{expr}` and `$name`
 * values are checked when the call runs.
 */
function callFor(spec: MagicSpec, argText: string, line: string, column0: number, cellBody?: string): string {
  const tokens = tokenize(argText, spec.name, column0);
  const flags: string[] = [];
  const positional: string[] = [];
  const codeArg = spec.positional.find((p) => p.code);
  const byLong = new Map(Object.keys(spec.flags).map((k) => [flagName(k), k]));
  const byShort = new Map(Object.entries(spec.flags).filter(([, f]) => f.short).map(([k, f]) => [f.short as string, k]));
  let codeStart: number | undefined;

  const codeIndex = codeArg ? spec.positional.indexOf(codeArg) : -1;
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t];
    if (tok.kind === "word" && tok.text.startsWith("//")) break; // a trailing comment, as in TypeScript
    const flagMatch = tok.kind === "word" ? /^(--?)([A-Za-z][\w-]*)(?:=(.*))?$/.exec(tok.text) : null;
    if (!flagMatch) {
      if (positional.length === codeIndex) {
        codeStart = tok.start;
        break;
      }
      const last = spec.positional[spec.positional.length - 1];
      if (positional.length >= spec.positional.length && !last?.variadic) {
        // IPython's "unrecognized arguments": an extra word must not be dropped silently.
        throw new SlimlabError("E_ARG", `%${spec.name}: unexpected argument ${JSON.stringify(argText.slice(tok.start, tok.end))}; usage: ${usage(spec)}`);
      }
      const pspec = spec.positional[Math.min(positional.length, spec.positional.length - 1)];
      positional.push(pspec?.text && tok.kind === "word" ? JSON.stringify(tok.text) : valueExpr(tok, spec.name, "argument"));
      continue;
    }
    const [, dashes, rawName, inline] = flagMatch;
    const key = dashes === "--" ? byLong.get(rawName) : byShort.get(rawName);
    if (!key) {
      const known = [...byLong.keys()].map((k) => `--${k}`);
      throw new SlimlabError("E_UNKNOWN_FLAG", `%${spec.name}: unknown flag ${dashes}${rawName}${suggestion(`--${rawName}`, known)}; allowed: ${known.join(" ") || "none"}`);
    }
    const fspec: FlagSpec = spec.flags[key];
    let valueTok: Token | undefined;
    if (inline !== undefined) {
      valueTok = { kind: "word", text: inline, start: tok.start, end: tok.end };
    } else if (fspec.type !== "boolean") {
      valueTok = tokens[++t];
      if (!valueTok) throw new SlimlabError("E_ARG", `%${spec.name}: --${flagName(key)} needs a value (${fspec.help})`);
    }
    const expr = valueTok === undefined ? "true" : flagValueExpr(spec.name, key, fspec, valueTok);
    flags.push(`${JSON.stringify(key)}: ${expr}`);
  }

  if (codeArg) {
    const code = cellBody ?? (codeStart === undefined ? "" : withoutTrailingComment(argText.slice(codeStart)));
    if (code.trim() === "") throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing the code to run, e.g. %${spec.name} f(x)`);
    // A cell body keeps its own lines inside the closure (line numbers stay
    // right); a line magic's code stays on its one line. The closing brace of
    // a body follows U+2028, a line terminator for JavaScript (it ends a
    // trailing // comment, ECMA-262 "Line Terminators") that split("\n")
    // does not count, so the expansion keeps the cell's line count.
    positional.push(cellBody !== undefined ? `async () => {\n${code}\u2028}` : `async () => { ${code} }`);
  }
  const cellArg = cellBody !== undefined && !codeArg ? `, ${JSON.stringify(cellBody)}` : "";
  return `${RUNTIME}.runMagic(${JSON.stringify(spec.name)}, [${positional.join(", ")}], {${flags.join(", ")}}, ${JSON.stringify(line.trim())}${cellArg})`;
}

/**
 * A line magic's code without its trailing comments: a `// ...` would swallow
 * the `}` that closes the closure the code goes in. TypeScript's parser finds
 * where the last statement ends (strings, templates and regexps may hold `//`).
 */
function withoutTrailingComment(code: string): string {
  const ts = typescript() as unknown as { createSourceFile(file: string, text: string, target: number): { statements: readonly { end: number }[] } };
  const statements = ts.createSourceFile("magic.ts", code, 99 /* ESNext */).statements;
  return statements.length ? code.slice(0, statements[statements.length - 1].end) : "";
}

/** A notebook value: a variable path, `{expr}`, `$name`, a quoted string or a number. */
function valueExpr(tok: Token, magic: string, what: string): string {
  if (tok.kind === "expr") return `(${tok.text})`;
  if (tok.kind === "quoted") return JSON.stringify(tok.text);
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(tok.text)) return tok.text;
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*|\[\d+\])*$/.test(tok.text)) return tok.text;
  throw new SlimlabError("E_ARG", `%${magic}: ${what} ${JSON.stringify(tok.text)} is not a variable name; write a name, $name, {expression} or a quoted string`);
}

function flagValueExpr(magic: string, key: string, spec: FlagSpec, tok: Token): string {
  if (spec.type === "value") return valueExpr(tok, magic, `--${flagName(key)}`);
  if (tok.kind === "expr") return `(${tok.text})`;
  // A literal: check it now so the cell fails before it runs.
  return JSON.stringify(checkFlag(magic, key, spec, tok.text));
}
