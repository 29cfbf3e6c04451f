/**
 * Input history for history_request (messaging spec, "History"): tail,
 * range and search, over the cells of this kernel session.
 */

export type HistoryEntry = [session: number, line: number, input: string];
/** With `output: true` the third item is [input, output] (output: the result's text/plain, or null). */
export type HistoryEntryWithOutput = [session: number, line: number, inputOutput: [string, string | null]];

export interface HistoryQuery {
  hist_access_type?: "tail" | "range" | "search";
  n?: number;
  output?: boolean;
  session?: number;
  start?: number;
  stop?: number;
  pattern?: string;
  unique?: boolean;
}

/** IPython's search patterns are globs: * any run of characters, ? one character. */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

export class History {
  private readonly entries: HistoryEntry[] = [];
  private readonly outputs = new Map<number, string>();
  constructor(private readonly session = 1) {}

  add(line: number, input: string): void {
    this.entries.push([this.session, line, input]);
  }

  /** Records the text/plain result of cell `line`. */
  setOutput(line: number, text: string): void {
    this.outputs.set(line, text);
  }

  query(q: HistoryQuery): (HistoryEntry | HistoryEntryWithOutput)[] {
    const hits = this.select(q);
    if (!q.output) return hits;
    return hits.map(([s, line, input]) => [s, line, [input, this.outputs.get(line) ?? null]]);
  }

  private select(q: HistoryQuery): HistoryEntry[] {
    const type = q.hist_access_type ?? "tail";
    if (type === "tail") return lastN(this.entries, q.n);
    if (type === "range") {
      // session 0 (or a negative one relative to now) means this session here: there is only one.
      const start = q.start ?? 0;
      const stop = q.stop ?? Infinity;
      return this.entries.filter(([, line]) => line >= start && line < stop);
    }
    const re = globToRegExp(q.pattern ?? "*");
    let hits = this.entries.filter(([, , input]) => re.test(input));
    if (q.unique) {
      const seen = new Set<string>();
      hits = hits.reverse().filter(([, , input]) => !seen.has(input) && !!seen.add(input)).reverse();
    }
    return lastN(hits, q.n);
  }
}

/** The last `n` items (all without n). Not `slice(-n)`: n = 0 must give none, and slice(-0) gives all. */
function lastN<T>(items: T[], n: number | undefined): T[] {
  if (n === undefined) return [...items];
  return n > 0 ? items.slice(-n) : [];
}
