/**
 * Tab completion on magic lines: magic names after `%`, flags after `-`,
 * allowed values after a choice flag. Other lines go to TypeScript's completer.
 */
import { flagName } from "../../plugins/core/magic";
import { MagicLookup } from "./expand";

export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

/**
 * Completions for the cursor at `pos` in `src`, or undefined when the cursor
 * is not on a magic line (the caller then asks TypeScript).
 */
export function completeMagic(src: string, pos: number, lookup: MagicLookup): Completion | undefined {
  const lineStart = src.lastIndexOf("\n", pos - 1) + 1;
  const before = src.slice(lineStart, pos);
  const m = /^(\s*(?:(?:const|let|var)\s+[\w$]+\s*=\s*|[\w$.]+\s*=\s*)?)(%%?)([A-Za-z_]\w*)?$/.exec(before);
  if (m) {
    const prefix = m[3] ?? "";
    const start = lineStart + m[1].length;
    const matches = lookup
      .names()
      .filter((n) => n.startsWith(prefix))
      .map((n) => `${m[2]}${n}`);
    return { start, end: pos, matches };
  }
  const line = /^\s*(?:(?:const|let|var)\s+[\w$]+\s*=\s*|[\w$.]+\s*=\s*)?%%?([A-Za-z_]\w*)\s(.*)$/.exec(before);
  if (!line) return undefined;
  const spec = lookup.get(line[1]);
  if (!spec) return undefined;
  const words = line[2].split(/\s+/);
  const word = words[words.length - 1];
  const start = pos - word.length;
  const flags = Object.keys(spec.flags).map((k) => `--${flagName(k)}`);
  if (word.startsWith("-")) return { start, end: pos, matches: flags.filter((f) => f.startsWith(word)) };
  const prev = words[words.length - 2];
  const key = Object.keys(spec.flags).find((k) => `--${flagName(k)}` === prev);
  const f = key ? spec.flags[key] : undefined;
  if (f && f.type === "choice") return { start, end: pos, matches: f.choices.filter((c) => c.startsWith(word)) };
  return undefined;
}
