/**
 * Splits the arguments of a magic into words, IPython style: white space
 * separates; 'single' and "double" quotes group; `{expr}` is a notebook
 * expression (braces may nest); `$name` is a notebook variable. Names are
 * TypeScript identifiers, Unicode included (`$模型`).
 *
 * A magic's arguments end where TypeScript takes over again: at the end of
 * the line, at `;`, at a `//` comment, and at a `)`, `]` or `}` that closes
 * a bracket opened before the magic (`if (a) { %bench m }`).
 */
import { SlimlabError } from "../../plugins/core/errors";

/** An identifier as TypeScript allows it: ID_Start, `$` or `_`, then ID_Continue, `$`, ZWNJ, ZWJ (use with the `u` flag). */
export const IDENT = "[\\p{ID_Start}$_][\\p{ID_Continue}$\\u200C\\u200D]*";

/** A variable or a path into one: `m`, `模型.层`, `a.b[0]`. */
const VARIABLE = new RegExp(`^${IDENT}(?:\\.${IDENT}|\\[\\d+\\])*$`, "u");
/** `$name` or `$name.path` at the sticky position. */
const DOLLAR = new RegExp(`\\$(${IDENT}(?:\\.${IDENT})*)`, "uy");

export type Token =
  | { kind: "word"; text: string; start: number; end: number }
  | { kind: "quoted"; text: string; start: number; end: number }
  | { kind: "expr"; text: string; start: number; end: number };

/** Whether `text` names a variable (or a property path of one), as a bare magic argument may. */
export function isVariablePath(text: string): boolean {
  return VARIABLE.test(text);
}

function column(src: string, pos: number): number {
  return pos - (src.lastIndexOf("\n", pos - 1) + 1) + 1;
}

/** Skips spaces and tabs (not line breaks) from `i`. */
function skipBlanks(src: string, i: number): number {
  while (i < src.length && (src[i] === " " || src[i] === "\t" || src[i] === "\r")) i++;
  return i;
}

/**
 * The next word of a magic's arguments at or after offset `i` of the cell,
 * or undefined where the arguments end (see the file comment). Offsets are
 * into `src`. Throws E_PARSE for an unclosed quote or brace, naming the
 * column of the user's line.
 */
export function nextToken(src: string, i: number, magic: string): Token | undefined {
  const start = skipBlanks(src, i);
  const c = src[start];
  if (c === undefined || c === "\n" || c === ";" || c === ")" || c === "]" || c === "}") return undefined;
  if (c === "/" && src[start + 1] === "/") return undefined;
  if (c === "'" || c === '"') return quoted(src, start, magic);
  if (c === "{") {
    const end = closingBrace(src, start);
    if (end < 0) throw new SlimlabError("E_PARSE", `%${magic}: unclosed { starting at column ${column(src, start)}; write {expression}`);
    return { kind: "expr", text: src.slice(start + 1, end - 1), start, end };
  }
  if (c === "$") {
    DOLLAR.lastIndex = start;
    const m = DOLLAR.exec(src);
    if (m) return { kind: "expr", text: m[1], start, end: start + m[0].length };
  }
  // A word: up to white space, or to a `;` or a closing bracket it did not open.
  let depth = 0;
  let j = start;
  for (; j < src.length && !/\s/.test(src[j]); j++) {
    const d = src[j];
    if (d === "(" || d === "[" || d === "{") depth++;
    else if (d === ")" || d === "]" || d === "}") {
      if (depth === 0) break;
      depth--;
    } else if (d === ";" && depth === 0) break;
  }
  return { kind: "word", text: src.slice(start, j), start, end: j };
}

function quoted(src: string, start: number, magic: string): Token {
  const q = src[start];
  let text = "";
  let j = start + 1;
  while (j < src.length && src[j] !== q && src[j] !== "\n") {
    if (src[j] === "\\" && j + 1 < src.length && src[j + 1] !== "\n") j++;
    text += src[j++];
  }
  if (src[j] !== q) throw new SlimlabError("E_PARSE", `%${magic}: unclosed ${q} starting at column ${column(src, start)}; close the quote`);
  return { kind: "quoted", text, start, end: j + 1 };
}

/** Offset just after the `}` matching the `{` at `start` (skipping quoted text), or -1 when the line ends first. */
function closingBrace(src: string, start: number): number {
  let depth = 0;
  for (let j = start; j < src.length && src[j] !== "\n"; j++) {
    const c = src[j];
    if (c === "'" || c === '"' || c === "`") {
      for (j++; j < src.length && src[j] !== c && src[j] !== "\n"; j++) if (src[j] === "\\") j++;
      if (src[j] !== c) return -1;
    } else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return j + 1;
  }
  return -1;
}

/** All words of a magic's arguments from `i`, and the offset just after the last one (`i` when there is none). */
export function tokenize(src: string, i: number, magic: string): { tokens: Token[]; end: number } {
  const tokens: Token[] = [];
  let end = i;
  for (let tok = nextToken(src, i, magic); tok; tok = nextToken(src, tok.end, magic)) {
    tokens.push(tok);
    end = tok.end;
  }
  return { tokens, end };
}
