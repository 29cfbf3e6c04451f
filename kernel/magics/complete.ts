/**
 * Tab completion of magics: magic names after `%`, flags after `-`,
 * allowed values after a choice flag, wherever a magic may stand (scan.ts).
 * Other positions go to TypeScript's completer.
 */
import { flagName, flagsOf, MagicSpec } from "../../plugins/core/magic";
import { MagicLookup } from "./expand";
import { codeEnd, scanMagics } from "./scan";
import { nextToken, Token } from "./tokens";

export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

/**
 * Completions for the cursor at `pos` in `src`, or undefined when the cursor
 * is not in a magic's name or flags (the caller then asks TypeScript).
 */
export function completeMagic(src: string, pos: number, lookup: MagicLookup): Completion | undefined {
  const before = src.slice(0, pos);
  // `%%` offers the magics a cell can start with; `%` the line magics, and
  // the cell-only ones as `%%name` where that may stand: at the cell's start.
  const names = (prefix: string, marks: "%" | "%%", start: number): Completion => ({
    start,
    end: pos,
    matches: lookup.names().filter((n) => n.startsWith(prefix)).flatMap((n) => {
      const spec = lookup.get(n);
      if (marks === "%%") return spec?.cell === true ? [`%%${n}`] : [];
      if (spec?.line !== false) return [`%${n}`];
      return /^\s*$/.test(before.slice(0, start)) ? [`%%${n}`] : [];
    }),
  });
  const cell = /^(\s*)%%([A-Za-z_]\w*)?$/.exec(before);
  if (cell) return names(cell[2] ?? "", "%%", cell[1].length);
  const cellFlags = /^\s*%%([A-Za-z_]\w*)(?=\s)/.exec(before);
  if (cellFlags && !before.includes("\n")) {
    const spec = lookup.get(cellFlags[1]);
    const args = spec && flagWords(spec, before, cellFlags[0].length);
    return spec && args && !args.code ? completeFlags(spec, args.words, pos) : undefined;
  }
  let found: Completion | undefined;
  scanMagics(
    before,
    0,
    (site) => {
      if (site.shell) {
        const end = before.indexOf("\n", site.start);
        return end < 0 ? pos : end; // a shell command: nothing to complete
      }
      if (site.argsStart === pos && !site.help) {
        found = names(site.name, "%", site.start);
        return pos;
      }
      const spec = lookup.get(site.name);
      const args = spec && flagWords(spec, before, site.argsStart);
      if (!args) return pos; // an open quote or brace, or no such magic: the cursor is in it, and it is no flag
      if (args.end < pos && !/^[ \t]*$/.test(before.slice(args.end))) return args.end; // the magic ended before the cursor
      found = args.code ? undefined : completeFlags(spec, args.words, pos);
      return pos;
    },
    true,
  );
  return found;
}

/**
 * The words of a magic from `argsStart`, and where they end; for a code
 * magic, only the words before its code (`code` tells whether it began).
 * Undefined when they do not parse.
 */
function flagWords(spec: MagicSpec, src: string, argsStart: number): { words: Token[]; end: number; code: boolean } | undefined {
  const words: Token[] = [];
  const codeMagic = spec.positional.some((p) => p.code || p.raw);
  const rawMagic = spec.positional.some((p) => p.raw);
  let end = argsStart;
  try {
    for (let tok = nextToken(src, argsStart, spec.name); tok; tok = nextToken(src, tok.end, spec.name)) {
      const isFlag = tok.kind === "word" && tok.text.startsWith("-");
      const prev = words[words.length - 1];
      const valueOfFlag = prev !== undefined && prev.kind === "word" && /^--?[A-Za-z][\w-]*$/.test(prev.text) && flagTakesValue(spec, prev.text);
      if (codeMagic && !isFlag && !valueOfFlag) {
        const lineEnd = src.indexOf("\n", tok.start);
        return { words, end: rawMagic ? (lineEnd < 0 ? src.length : lineEnd) : codeEnd(src, tok.start), code: true };
      }
      words.push(tok);
      end = tok.end;
    }
  } catch {
    return undefined;
  }
  return { words, end, code: false };
}

function flagTakesValue(spec: MagicSpec, typed: string): boolean {
  const all = flagsOf(spec);
  const key = Object.keys(all).find((k) => typed === `--${flagName(k)}` || typed === `-${all[k].short}`);
  return key !== undefined && all[key].type !== "boolean";
}

/**
 * Flag or choice completions for the word the cursor ends (empty after
 * white space), or the positional's own completions (its `complete`).
 */
function completeFlags(spec: MagicSpec, words: Token[], pos: number): Completion | undefined {
  const last = words.length && words[words.length - 1].end === pos ? words[words.length - 1] : undefined;
  const word = last?.kind === "word" ? last.text : last ? undefined : "";
  if (word === undefined) return undefined;
  const all = flagsOf(spec);
  const start = pos - word.length;
  if (word.startsWith("-")) {
    const flags = Object.keys(all).map((k) => `--${flagName(k)}`);
    return { start, end: pos, matches: flags.filter((f) => f.startsWith(word)) };
  }
  const prev = words[words.length - (last ? 2 : 1)];
  const key = prev && Object.keys(all).find((k) => `--${flagName(k)}` === prev.text);
  const f = key ? all[key] : undefined;
  if (f && f.type === "choice") return { start, end: pos, matches: f.choices.filter((c) => c.startsWith(word)) };
  if (key) return undefined; // the value of another flag
  const index = positionalIndex(spec, words.slice(0, words.length - (last ? 1 : 0)));
  const p = spec.positional[Math.min(index, spec.positional.length - 1)];
  if (!p?.complete || (index >= spec.positional.length && !p.variadic)) return undefined;
  return { start, end: pos, matches: p.complete(word) };
}

/** How many positional arguments `words` (the words before the cursor's) hold. */
function positionalIndex(spec: MagicSpec, words: Token[]): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w.kind === "word" && /^--?[A-Za-z][\w-]*$/.test(w.text)) {
      if (flagTakesValue(spec, w.text) && !w.text.includes("=")) i++;
      continue;
    }
    n++;
  }
  return n;
}
