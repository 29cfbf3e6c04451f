/**
 * Tables as plugins show them: a danfo DataFrame (what users get back to
 * work with) and its MIME bundle (an HTML table plus danfo's text form).
 */
import { MimeBundle } from "./host";

export type Row = Record<string, string | number | boolean | null>;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function cellText(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** An HTML table for columns × rows (a DataFrame's `columns`, `index` and `values`), like pandas' _repr_html_. */
export function htmlTable(columns: readonly string[], index: readonly unknown[], values: readonly unknown[]): string {
  const rows = values.map((r) => (Array.isArray(r) ? r : [r]));
  const head = `<tr><th></th>${columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join("")}</tr>`;
  const body = rows
    .map((r, i) => `<tr><th>${escapeHtml(String(index[i]))}</th>${r.map((v) => `<td>${escapeHtml(cellText(v))}</td>`).join("")}</tr>`)
    .join("");
  return `<table class="dataframe"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** A danfo DataFrame of `rows` (one object per row, same keys). danfo loads on first use. */
export function toDataFrame(rows: readonly Row[]): import("danfojs-node").DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require("danfojs-node") as typeof import("danfojs-node");
  const columns = rows.length ? Object.keys(rows[0]) : [];
  const data: Record<string, unknown[]> = {};
  for (const c of columns) data[c] = rows.map((r) => r[c]);
  return new dfd.DataFrame(data);
}

/** The MIME bundle of a danfo DataFrame or Series: HTML table and danfo's text. */
export function dataFrameBundle(df: { columns?: string[]; index: unknown[]; values: unknown[]; toString(): string }): MimeBundle {
  return { "text/plain": df.toString(), "text/html": htmlTable(df.columns ?? ["value"], df.index, df.values) };
}

/** The MIME bundle of `rows` shown as a table (through a danfo DataFrame); no rows give an empty table. */
export function tableBundle(rows: readonly Row[]): MimeBundle {
  // danfo cannot build a DataFrame without rows.
  if (rows.length === 0) return { "text/plain": "(no rows)", "text/html": htmlTable([], [], []) };
  return dataFrameBundle(toDataFrame(rows) as unknown as Parameters<typeof dataFrameBundle>[0]);
}
