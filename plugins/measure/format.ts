/**
 * How the measure plugin prints numbers: counts with thousands separators,
 * bytes in KB/MB (powers of 1024, as file managers and tfjs' memory() do),
 * milliseconds with three significant digits. Shared so that %summary,
 * %size, %bench and %compare read alike.
 */

/**
 * A whole number with thousands separators.
 *
 * @param n a count (rounded to an integer)
 * @returns e.g. "288,000"; "-" for NaN or undefined
 * @example
 *   count(2293000); // "2,293,000"
 */
export function count(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  return Math.round(n).toLocaleString("en-US");
}

/**
 * A byte count for people: B below 1 KB, then KB, MB, GB (1 KB = 1024 B).
 *
 * @param n bytes
 * @returns e.g. "1.6 MB", "520 B"
 * @example
 *   bytes(1724320); // "1.64 MB"
 */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  const units = ["B", "KB", "MB", "GB"];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${sig(v, 3)} ${units[u]}`;
}

/**
 * A number to `digits` significant digits, without trailing zeros.
 *
 * @param n any number
 * @param digits significant digits (default 3)
 * @returns e.g. "0.0123", "1.5"; "-" for NaN
 * @example
 *   sig(3.14159); // "3.14"
 */
export function sig(n: number | undefined, digits = 3): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (n === 0) return "0";
  if (Math.abs(n) >= 10 ** digits) return count(n);
  return String(Number(n.toPrecision(digits)));
}

/**
 * Milliseconds for a latency column.
 *
 * @param ms a duration in milliseconds
 * @returns e.g. "1.23 ms"
 * @example
 *   ms(0.04567); // "0.0457 ms"
 */
export function ms(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? "-" : `${sig(n, 3)} ms`;
}

/**
 * Rows as an aligned plain-text table: numbers right-aligned, text left.
 *
 * @param header column titles
 * @param rows cells, already formatted
 * @returns the table, one line per row, header first
 * @example
 *   textTable(["layer", "MACs"], [["conv1", "288,000"]]);
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d,.]+( ?[a-zA-Z%×/]+)?$|^-$/.test(r[i] ?? "")));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
