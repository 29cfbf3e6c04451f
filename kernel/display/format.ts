/**
 * How a value becomes a MIME bundle (the execute_result of a cell, or what
 * `display()` shows): tensors print as tfjs prints them, danfo frames as
 * HTML tables, objects that know their own rich form (`toMimeBundle()`,
 * e.g. slimlab figures) as that, everything else as Node's inspect.
 */
import { inspect } from "util";
import { MimeBundle } from "../../plugins/core/host";

export interface RichValue {
  toMimeBundle(): MimeBundle;
}

function isRich(v: unknown): v is RichValue {
  return typeof v === "object" && v !== null && typeof (v as RichValue).toMimeBundle === "function";
}

function isTensor(v: unknown): v is { toString(verbose?: boolean): string; shape: number[]; dtype: string; isDisposed: boolean } {
  return typeof v === "object" && v !== null && "dataSync" in v && "shape" in v && "dtype" in v && "rankType" in v;
}

/** danfojs DataFrame or Series, recognised without importing danfo. */
function isDanfo(v: unknown): v is { toString(): string; columns?: string[]; index: unknown[]; values: unknown[] } {
  const name = (v as { constructor?: { name?: string } })?.constructor?.name;
  return (name === "DataFrame" || name === "Series") && typeof v === "object" && v !== null && "$data" in v;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** An HTML table for a danfo DataFrame or Series (columns × index), like pandas' _repr_html_. */
export function danfoHtml(df: { columns?: string[]; index: unknown[]; values: unknown[] }): string {
  const columns = df.columns ?? ["value"];
  const rows = df.values.map((r) => (Array.isArray(r) ? r : [r]));
  const head = `<tr><th></th>${columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join("")}</tr>`;
  const body = rows
    .map((r, i) => `<tr><th>${escapeHtml(String(df.index[i]))}</th>${r.map((v) => `<td>${escapeHtml(cell(v))}</td>`).join("")}</tr>`)
    .join("");
  return `<table class="dataframe"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** The MIME bundle for `value`. */
export function toMimeBundle(value: unknown): MimeBundle {
  if (isRich(value)) return value.toMimeBundle();
  if (isTensor(value)) {
    return { "text/plain": value.isDisposed ? `Tensor (disposed) shape=[${value.shape}] dtype=${value.dtype}` : value.toString() };
  }
  if (isDanfo(value)) return { "text/plain": value.toString(), "text/html": danfoHtml(value) };
  if (typeof value === "string") return { "text/plain": value };
  return { "text/plain": inspect(value, { depth: 4, colors: false, maxArrayLength: 50 }) };
}
