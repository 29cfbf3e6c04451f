/**
 * The one error class of slimlab. Every user-facing failure (a bad magic
 * argument, an unsupported layer, a corrupt file) is a SlimlabError with a
 * stable code, so tests can assert on it and the kernel can show it as one
 * line instead of a stack trace.
 */

/** Stable error codes. Add new ones here; never reuse a code for a new meaning. */
export type ErrorCode =
  | "E_ARG" // a value outside what an option allows
  | "E_UNKNOWN_MAGIC"
  | "E_UNKNOWN_FLAG"
  | "E_MISSING_ARG"
  | "E_TYPE" // a value of the wrong type (not a model, not a tensor, ...)
  | "E_PARSE" // a magic line that cannot be tokenised
  | "E_MODEL" // a model that cannot be handled (unbuilt, unsupported layer)
  | "E_DATA" // data that does not fit (empty, shapes differ)
  | "E_FILE" // a file that is missing, corrupt or would be overwritten
  | "E_BACKEND" // a backend that is not available
  | "E_INTERRUPTED" // a long run stopped by the user
  | "E_PLUGIN"; // a plugin that does not follow the contract

export class SlimlabError extends Error {
  readonly code: ErrorCode;

  /**
   * @param code stable code, e.g. "E_ARG"
   * @param message one line: the value received, what is allowed, how to fix it
   */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "SlimlabError";
    this.code = code;
  }
}

/** True for errors slimlab raised on purpose (shown as one line, no stack). */
export function isSlimlabError(e: unknown): e is SlimlabError {
  return e instanceof Error && (e as { name?: string }).name === "SlimlabError" && "code" in e;
}

/** Formats a value for an error message: short, quoted when a string. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return `[${value.slice(0, 8).map(show).join(", ")}${value.length > 8 ? ", ..." : ""}]`;
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== "Object" ? `a ${ctor}` : "an object";
}

/**
 * Levenshtein distance, for "did you mean" suggestions.
 */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The closest candidate to `word`, if it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** " (did you mean X?)" or "" — to append to an error message. */
export function suggestion(word: string, candidates: readonly string[], prefix = ""): string {
  const s = didYouMean(word, candidates);
  return s === undefined ? "" : ` (did you mean ${prefix}${s}?)`;
}
