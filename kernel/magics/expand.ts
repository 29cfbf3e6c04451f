/**
 * Turns a cell with magics into plain TypeScript that tslab type-checks and
 * runs. Each magic becomes a `runMagic` call in the same place on the same
 * line, so line numbers of the user's cell stay where they were (errors
 * point at the user's own lines). Everything else is left exactly as
 * written: `x\n% 4` stays a modulo. Where a magic may stand: scan.ts.
 *
 * Every check a magic's declaration allows without the notebook's values
 * runs here, before any line of the cell runs: flag names, types and ranges
 * of literal values, required flags and arguments. Values written as
 * `{expr}` or `$name` are checked by the same declaration when the call runs.
 */
import { SlimlabError, suggestion } from "../../plugins/core/errors";
import { checkFlag, checkPresence, flagName, flagsOf, FlagSpec, MagicSpec, unknownFlag, usage } from "../../plugins/core/magic";
import { codeClosure } from "./code";
import { codeEnd, MagicSite, scanMagics } from "./scan";
import { isVariablePath, nextToken, Token, tokenize } from "./tokens";

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
  /** The lines that hold magics (0-based). */
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

const CELL_MAGIC = /^\s*%%([A-Za-z_]\w*)(\?{1,2})?(?=\s|$)(.*)$/;

/** Whether `line` (from a cell) holds a magic naming a registered magic. */
export function isMagicLine(line: string, lookup: MagicLookup): boolean {
  const cell = CELL_MAGIC.exec(line);
  if (cell) return lookup.get(cell[1]) !== undefined;
  let found = false;
  scanMagics(line, 0, (site) => {
    found ||= lookup.get(site.name) !== undefined;
    return undefined;
  });
  return found;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/**
 * Expands `src`. Throws SlimlabError (E_UNKNOWN_MAGIC, E_UNKNOWN_FLAG, E_ARG,
 * E_PARSE, E_MISSING_ARG) for a bad magic, before any of the cell runs.
 */
export function expandCell(src: string, lookup: MagicLookup, options: ExpandOptions = {}): Expansion {
  const importRuntime = options.importRuntime ?? true;
  const magics: string[] = [];
  const edits: Edit[] = [];
  let timeCell = false;
  let from = 0;

  const firstLine = src.split("\n", 1)[0];
  const cell = CELL_MAGIC.exec(firstLine);
  if (cell) {
    const [, name, help] = cell;
    const spec = known(name, lookup, "%%");
    magics.push(name);
    const argsStart = firstLine.indexOf(`%%${name}`) + 2 + name.length + (help?.length ?? 0);
    const body = src.slice(firstLine.length + 1);
    if (help || wantsHelp(src, argsStart, spec)) {
      edits.push({ start: 0, end: firstLine.length, text: `${RUNTIME}.magicHelp(${JSON.stringify(name)});` });
      from = firstLine.length;
    } else if (name === "time") {
      timeCell = true;
      edits.push({ start: 0, end: firstLine.length, text: "" });
      from = firstLine.length;
    } else {
      if (spec.cell !== true) throw new SlimlabError("E_ARG", `%%${name} is a line magic; write %${name} ... on one line`);
      const { call } = parseMagic(spec, src, argsStart, firstLine.trim(), body);
      // A code body stays on its own lines inside the call's closure; a text
      // body moves into the call as a string and blank lines keep the count.
      const codeBody = spec.positional.some((p) => p.code);
      const text = codeBody ? `await ${call};` : `await ${call};${src.slice(firstLine.length).replace(/[^\n]/g, "")}`;
      return finish(src, [{ start: 0, end: src.length, text }], magics, timeCell, importRuntime);
    }
  }

  scanMagics(src, from, (site) => {
    const spec = lookup.get(site.name);
    if (site.shell) {
      if (!spec) return undefined; // no %system: the line is TypeScript
      const edit = shellLine(src, site);
      magics.push(site.name);
      edits.push(edit);
      return edit.end;
    }
    if (!spec && site.mayBeModulo) return undefined; // `a\n%b` is a modulo
    if (!spec) known(site.name, lookup, "%");
    const edit = expandSite(src, site, spec as MagicSpec);
    magics.push(site.name);
    edits.push(edit);
    return edit.end;
  });
  return finish(src, edits, magics, timeCell, importRuntime);
}

/** `!cmd`: the rest of the line, as written, becomes the command of %system. */
function shellLine(src: string, site: MagicSite): Edit {
  const end = lineEnd(src, site.start);
  const command = src.slice(site.argsStart, end).trimEnd();
  if (command.trim() === "") throw new SlimlabError("E_MISSING_ARG", "!: missing the shell command, e.g. !ls -l");
  const line = src.slice(site.start, end).trim();
  return { start: site.start, end, text: `await ${RUNTIME}.runMagic(${JSON.stringify(site.name)}, [${interpolated(command)}], {}, ${JSON.stringify(line)});` };
}

/**
 * `text` as a template literal: `{name}` (a variable path) becomes its
 * value, `{{name}}` stays `{name}`, and everything else is kept as written,
 * `${VAR}` of the shell included.
 */
export function interpolated(text: string): string {
  let out = "`";
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === "$" && text[i + 1] === "{") {
      out += "\\${";
      i += 2;
      continue;
    }
    if (c === "{") {
      const escaped = text[i + 1] === "{";
      const close = text.indexOf(escaped ? "}}" : "}", i);
      const inner = close < 0 ? "" : text.slice(i + (escaped ? 2 : 1), close).trim();
      if (close >= 0 && isVariablePath(inner)) {
        out += escaped ? `{${inner}}` : `\${${inner}}`;
        i = close + (escaped ? 2 : 1);
        continue;
      }
    }
    out += c === "`" || c === "\\" ? `\\${c}` : c;
    i++;
  }
  return `${out}\``;
}

/** The edit that replaces one line magic by its call (or by its help). */
function expandSite(src: string, site: MagicSite, spec: MagicSpec): Edit {
  let end: number;
  let text: string;
  if (site.help || wantsHelp(src, site.argsStart, spec)) {
    end = helpEnd(src, site.argsStart, spec.name);
    text = `${RUNTIME}.magicHelp(${JSON.stringify(spec.name)})`;
  } else {
    if (spec.line === false) throw new SlimlabError("E_ARG", `%${spec.name} is a cell magic; write %%${spec.name} on the first line of the cell`);
    const parsed = parseMagic(spec, src, site.argsStart, undefined);
    end = parsed.end;
    // The body of `=>` without braces cannot await: the arrow gives the promise.
    text = site.placement === "arrow" ? parsed.call : `await ${parsed.call}`;
  }
  // Ending the statement keeps `%m x\n(f)()` from reading as a call of the magic's result.
  const rest = src.slice(end, lineEnd(src, end));
  if (site.placement !== "arrow" && /^\s*(\/\/.*)?$/.test(rest)) text += ";";
  return { start: site.start, end, text };
}

function lineEnd(src: string, pos: number): number {
  const i = src.indexOf("\n", pos);
  return i < 0 ? src.length : i;
}

/**
 * Whether the arguments from `argsStart` hold a `--help` flag (before any
 * unparseable word). For a magic taking the rest of the line as written,
 * only its first word counts: `%system grep --help` runs grep.
 */
function wantsHelp(src: string, argsStart: number, spec: MagicSpec): boolean {
  try {
    const tokens = tokenize(src, argsStart, spec.name).tokens;
    const words = spec.positional.some((p) => p.raw) ? tokens.slice(0, 1) : tokens;
    return words.some((t) => t.kind === "word" && t.text === "--help");
  } catch {
    return false;
  }
}

/** Where a `%name?` or `--help` magic ends: after its words, or at the end of the line if they do not parse. */
function helpEnd(src: string, argsStart: number, magic: string): number {
  try {
    return tokenize(src, argsStart, magic).end;
  } catch {
    return lineEnd(src, argsStart);
  }
}

function finish(src: string, edits: Edit[], magics: string[], timeCell: boolean, importRuntime: boolean): Expansion {
  let code = "";
  let at = 0;
  const magicLines: number[] = [];
  for (const e of edits) {
    code += src.slice(at, e.start) + e.text;
    at = e.end;
    const line = src.slice(0, e.start).split("\n").length - 1;
    if (!magicLines.includes(line)) magicLines.push(line);
  }
  code += src.slice(at);
  const needsImport = importRuntime && code.includes(`${RUNTIME}.`);
  if (needsImport) code = IMPORT + code;
  return { code, firstLineShift: needsImport ? IMPORT.length : 0, timeCell, magics, magicLines };
}

function known(name: string, lookup: MagicLookup, prefix: string): MagicSpec {
  const spec = lookup.get(name);
  if (!spec) {
    throw new SlimlabError("E_UNKNOWN_MAGIC", `unknown magic ${prefix}${name}${suggestion(name, lookup.names(), prefix)}; %lsmagic lists them`);
  }
  return spec;
}

/**
 * Parses one magic's arguments from offset `argsStart` of the cell and
 * builds its `runMagic(...)` call. Literal values are checked here, so a
 * typo or a value out of range fails before anything runs. `line` is the
 * magic as written (default: its own text); `cellBody` the body of a
 * `%%name` cell.
 */
function parseMagic(spec: MagicSpec, src: string, argsStart: number, line: string | undefined, cellBody?: string): { call: string; end: number } {
  const all = flagsOf(spec);
  const flags: string[] = [];
  const given = new Set<string>();
  /** Literal flag values, checked and converted, for the declaration's `check`. */
  const literal: Record<string, unknown> = {};
  const positional: string[] = [];
  /** Each positional as the user named it (MagicSpec.argNames), in step with `positional`. */
  const names: (string | null)[] = [];
  const codeArg = spec.positional.find((p) => p.code);
  const codeIndex = codeArg ? spec.positional.indexOf(codeArg) : -1;
  const rawIndex = spec.positional.findIndex((p) => p.raw);
  const byLong = new Map(Object.keys(all).map((k) => [flagName(k), k]));
  const byShort = new Map(Object.entries(all).filter(([, f]) => f.short).map(([k, f]) => [f.short as string, k]));
  let codeStart: number | undefined;
  let end = argsStart;

  for (let tok = nextToken(src, argsStart, spec.name); tok; tok = nextToken(src, end, spec.name)) {
    const flagMatch = tok.kind === "word" ? /^(--?)([A-Za-z][\w-]*)(?:=(.*))?$/.exec(tok.text) : null;
    if (!flagMatch) {
      if (positional.length === codeIndex) {
        codeStart = tok.start;
        break;
      }
      if (positional.length === rawIndex) {
        end = lineEnd(src, tok.start);
        positional.push(interpolated(src.slice(tok.start, end).trimEnd()));
        names.push(null);
        break;
      }
      const last = spec.positional[spec.positional.length - 1];
      if (positional.length >= spec.positional.length && !last?.variadic) {
        // IPython's "unrecognized arguments": an extra word must not be dropped silently.
        throw new SlimlabError("E_ARG", `%${spec.name}: unexpected argument ${JSON.stringify(src.slice(tok.start, tok.end))}; usage: ${usage(spec)}`);
      }
      const pspec = spec.positional[Math.min(positional.length, spec.positional.length - 1)];
      const asText = pspec?.text === true && tok.kind === "word";
      positional.push(asText ? JSON.stringify(tok.text) : valueExpr(tok, spec.name, "argument"));
      names.push(asText ? null : argName(tok));
      end = tok.end;
      continue;
    }
    const [, dashes, rawName, inline] = flagMatch;
    const key = dashes === "--" ? byLong.get(rawName) : byShort.get(rawName);
    if (!key) throw unknownFlag(spec, `${dashes}${rawName}`);
    const fspec: FlagSpec = all[key];
    let valueTok: Token | undefined;
    end = tok.end;
    if (inline !== undefined) {
      valueTok = { kind: "word", text: inline, start: tok.start, end: tok.end };
    } else if (fspec.type !== "boolean") {
      valueTok = nextToken(src, tok.end, spec.name);
      if (!valueTok) throw new SlimlabError("E_ARG", `%${spec.name}: --${flagName(key)} needs a value (${fspec.help})`);
      end = valueTok.end;
    }
    const value = valueTok === undefined ? true : literalValue(spec.name, key, fspec, valueTok);
    if (value !== undefined) literal[key] = value;
    flags.push(`${JSON.stringify(key)}: ${value !== undefined ? JSON.stringify(value) : valueExpr(valueTok as Token, spec.name, `--${flagName(key)}`)}`);
    given.add(key);
  }

  if (codeArg) {
    if (codeStart !== undefined && cellBody === undefined) end = codeEnd(src, codeStart);
    const code = cellBody ?? (codeStart === undefined ? "" : src.slice(codeStart, end));
    if (code.trim() === "") throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing the code to run, e.g. %${spec.name} f(x)`);
    positional.splice(codeIndex, 0, codeClosure(code, cellBody !== undefined, codeArg.returnsValue === true));
    names.splice(codeIndex, 0, null);
  }
  const raw = spec.positional[rawIndex];
  if (raw && !raw.optional && positional.length <= rawIndex) {
    throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing <${raw.name}> (${raw.help}); usage: ${usage(spec)}`);
  }
  checkPresence(spec, positional.length - (codeArg ? 1 : 0), (k) => given.has(k));
  if (spec.check) {
    for (const [k, f] of Object.entries(all)) if (!given.has(k) && "default" in f && f.default !== undefined) literal[k] = f.default;
    spec.check(literal, given);
  }
  const text = line ?? src.slice(argsStart - spec.name.length - 1, end).trim();
  const tail = cellBody !== undefined && !codeArg ? [JSON.stringify(cellBody)] : [];
  if (spec.argNames === true) tail.push(...(tail.length ? [] : ["undefined"]), JSON.stringify(names));
  const rest = tail.map((t) => `, ${t}`).join("");
  return { call: `${RUNTIME}.runMagic(${JSON.stringify(spec.name)}, [${positional.join(", ")}], {${flags.join(", ")}}, ${JSON.stringify(text)}${rest})`, end };
}

/** A notebook value: a variable path, `{expr}`, `$name`, a quoted string or a number. */
function valueExpr(tok: Token, magic: string, what: string): string {
  if (tok.kind === "expr") return `(${tok.text})`;
  if (tok.kind === "quoted") return JSON.stringify(tok.text);
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(tok.text)) return tok.text;
  if (isVariablePath(tok.text)) return tok.text;
  throw new SlimlabError("E_ARG", `%${magic}: ${what} ${JSON.stringify(tok.text)} is not a variable name; write a name, $name, {expression} or a quoted string`);
}

/** How the user named a positional argument: a variable path, the name after `$`, the code inside `{}`; null for a literal. */
function argName(tok: Token): string | null {
  if (tok.kind === "expr") return tok.text.trim();
  return tok.kind === "word" && isVariablePath(tok.text) ? tok.text : null;
}

/** A flag's literal value, checked against its declaration now so the cell fails before it runs; undefined for `{expr}`, `$name` and notebook values. */
function literalValue(magic: string, key: string, spec: FlagSpec, tok: Token): unknown {
  if (spec.type === "value" || tok.kind === "expr") return undefined;
  return checkFlag(magic, key, spec, tok.text);
}
