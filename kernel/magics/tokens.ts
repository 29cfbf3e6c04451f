/**
 * Splits the argument text of a magic line into words, IPython style:
 * white space separates; 'single' and "double" quotes group; `{expr}` is a
 * notebook expression (braces may nest); `$name` is a notebook variable.
 */
import { SlimlabError } from "../../plugins/core/errors";

export type Token =
  | { kind: "word"; text: string; start: number; end: number }
  | { kind: "quoted"; text: string; start: number; end: number }
  | { kind: "expr"; text: string; start: number; end: number };

/**
 * Returns the tokens of `s`; `start`/`end` index into `s`. Throws E_PARSE on
 * an unclosed quote or brace. `column0` is the 0-based column of `s` in the
 * user's line, so the error names the column the user sees.
 */
export function tokenize(s: string, magic: string, column0 = 0): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    const start = i;
    const c = s[i];
    if (c === "'" || c === '"') {
      let text = "";
      i++;
      while (i < s.length && s[i] !== c) {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        text += s[i++];
      }
      if (i >= s.length) throw new SlimlabError("E_PARSE", `%${magic}: unclosed ${c} starting at column ${column0 + start + 1}; close the quote`);
      i++;
      tokens.push({ kind: "quoted", text, start, end: i });
    } else if (c === "{") {
      let depth = 0;
      for (; i < s.length; i++) {
        if (s[i] === "{") depth++;
        else if (s[i] === "}" && --depth === 0) break;
      }
      if (i >= s.length) throw new SlimlabError("E_PARSE", `%${magic}: unclosed { starting at column ${column0 + start + 1}; write {expression}`);
      i++;
      tokens.push({ kind: "expr", text: s.slice(start + 1, i - 1), start, end: i });
    } else if (c === "$" && /[A-Za-z_$]/.test(s[i + 1] ?? "")) {
      i++;
      while (i < s.length && /[\w$.]/.test(s[i])) i++;
      tokens.push({ kind: "expr", text: s.slice(start + 1, i), start, end: i });
    } else {
      while (i < s.length && !/\s/.test(s[i])) i++;
      tokens.push({ kind: "word", text: s.slice(start, i), start, end: i });
    }
  }
  return tokens;
}
