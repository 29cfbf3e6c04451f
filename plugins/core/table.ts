/**
 * Tables as plugins show them: a danfo DataFrame (what users get back to
 * work with) and its MIME bundle (an HTML table plus aligned text).
 *
 * What a reader sees differs from the data on purpose: a missing value
 * (NaN, null, undefined) is shown as "–", never as a literal; a camelCase key
 * becomes a header in words ("p50Ms" → "p50 ms", "nonZeros" → "non-zeros");
 * a number is shown to the digits it can carry (4 significant digits,
 * whole numbers from 1,000 on, thousands separated from 10,000). The rows
 * and DataFrames keep the full values and the keys.
 */
import { MimeBundle } from "./host";

export type Row = Record<string, string | number | boolean | null | undefined>;

/** What a table shows for a missing value. */
export const EMPTY = "–";

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** An integer for people: thousands separated from 10,000 on. */
function wholeText(n: number): string {
  const r = Math.round(n) || 0; // no "-0"
  return Math.abs(r) >= 10000 ? r.toLocaleString("en-US") : String(r);
}

/**
 * How a table shows one value.
 *
 * @param v a cell's value
 * @returns "–" for NaN, null and undefined; "∞" / "−∞"; integers exact (separators from 10,000);
 *   other numbers to 4 significant digits below 1,000 and whole above; "yes" / "no" for booleans
 * @example
 *   cellText(0.95600000001); // "0.956"
 *   cellText(NaN); // "–"
 *   cellText(1199882); // "1,199,882"
 */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return EMPTY;
  if (typeof v === "number") {
    if (Number.isNaN(v)) return EMPTY;
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
    if (Number.isInteger(v) || Math.abs(v) >= 1000) return wholeText(v);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Words that read better spelled another way in a header. */
const WORDS: Record<string, string> = { ms: "ms", pct: "%", pp: "pp", kb: "KB", mb: "MB", mse: "MSE", db: "dB", sqnr: "SQNR", huffman: "Huffman", quant: "quantized" };
/** Short prefixes that stay glued to the number after them: p50, fc1, float32, int8, conv2. */
const GLUED = new Set(["p", "b", "l", "fc", "float", "int", "uint", "conv", "top"]);

/**
 * A column key as a header: camelCase and snake_case split into lower-case
 * words, acronyms kept, a `_bN` suffix read as the batch size. Keys that
 * already hold spaces or symbols ("error %", "× pruned") are left alone.
 *
 * @param key a row key
 * @returns the header text
 * @example
 *   headerText("p50ms_b32"); // "p50 ms (batch 32)"
 *   headerText("nonZeros"); // "non-zeros"
 *   headerText("gzipKB"); // "gzip KB"
 */
export function headerText(key: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) return key;
  const parts = key.split("_").filter((p) => p !== "");
  let batch = "";
  const last = parts[parts.length - 1];
  if (parts.length > 1 && /^b\d+$/.test(last)) {
    batch = ` (batch ${last.slice(1)})`;
    parts.pop();
  }
  const words: string[] = [];
  for (const part of parts) {
    const tokens = part.match(/[A-Z]{2,}s?(?![a-z])|[A-Z]?[a-z]+|[A-Z]|\d+/g) ?? [part];
    for (const t of tokens) {
      const prev = words[words.length - 1];
      const isNumber = /^\d+$/.test(t);
      if (isNumber && prev !== undefined && (GLUED.has(prev) || /^[A-Z]$/.test(prev))) {
        words[words.length - 1] = prev + t;
        continue;
      }
      const acronym = /^[A-Z]{2,}s?$/.test(t) || /^[A-Z]$/.test(t);
      const lower = t.toLowerCase();
      words.push(WORDS[lower] ?? (acronym ? t : lower));
    }
  }
  const text = words.reduce((s, w, i) => (i === 0 ? w : s.endsWith("non") && s.length === 3 ? `${s}-${w}` : `${s} ${w}`), "");
  return text + batch;
}

/**
 * An HTML table for columns × rows (a DataFrame's `columns`, `index` and
 * `values`), like pandas' _repr_html_, with headers and cells as
 * {@link headerText} and {@link cellText} show them.
 *
 * @param columns column keys
 * @param index row labels, shown as a first column; undefined for none
 * @param values one array per row (or one value per row)
 * @returns the `<table>` markup
 * @example
 *   htmlTable(["layer", "nonZeros"], undefined, [["fc1", 1200]]);
 */
export function htmlTable(columns: readonly string[], index: readonly unknown[] | undefined, values: readonly unknown[]): string {
  const rows = values.map((r) => (Array.isArray(r) ? r : [r]));
  const corner = index === undefined ? "" : "<th></th>";
  const head = `<tr>${corner}${columns.map((c) => `<th>${escapeHtml(headerText(String(c)))}</th>`).join("")}</tr>`;
  const body = rows
    .map((r, i) => {
      const label = index === undefined ? "" : `<th>${escapeHtml(String(index[i]))}</th>`;
      return `<tr>${label}${r.map((v) => `<td>${escapeHtml(cellText(v))}</td>`).join("")}</tr>`;
    })
    .join("");
  return `<table class="dataframe"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** Rows as aligned plain text: headers and cells as in the HTML table, numbers right-aligned. */
export function plainTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const header = columns.map((c) => headerText(c));
  const cells = rows.map((r) => r.map(cellText));
  const missing = (v: unknown) => v === null || v === undefined;
  const numeric = columns.map((_, i) => rows.some((r) => typeof r[i] === "number") && rows.every((r) => typeof r[i] === "number" || missing(r[i])));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (cs: readonly string[]) => cs.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...cells.map(line)].join("\n");
}

/** The keys of `rows` in order of first appearance (rows may lack some). */
function columnsOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** A danfo DataFrame of `rows` (one object per row), with the full values and the keys as columns. danfo loads on first use. */
export function toDataFrame(rows: readonly Row[]): import("danfojs").DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require("danfojs") as typeof import("danfojs");
  const columns = columnsOf(rows);
  const data: Record<string, unknown[]> = {};
  for (const c of columns) data[c] = rows.map((r) => (r[c] === undefined ? null : r[c]));
  return new dfd.DataFrame(data);
}

/** The MIME bundle of a danfo DataFrame or Series: the HTML table (with its index) and danfo's text. */
export function dataFrameBundle(df: { columns?: string[]; index: unknown[]; values: unknown[]; toString(): string }): MimeBundle {
  return { "text/plain": df.toString(), "text/html": htmlTable(df.columns ?? ["value"], df.index, df.values) };
}

/**
 * The MIME bundle of `rows` shown as a table: HTML and aligned text, without
 * a row index, missing values as "–", headers in words.
 *
 * @param rows one object per row
 * @returns text/html and text/plain
 * @example
 *   host().display(tableBundle([{ layer: "fc1", nonZeros: 1200, sparsity: NaN }]));
 */
export function tableBundle(rows: readonly Row[]): MimeBundle {
  const columns = columnsOf(rows);
  const values = rows.map((r) => columns.map((c) => r[c]));
  return { "text/plain": plainTable(columns, values), "text/html": htmlTable(columns, undefined, values) };
}
