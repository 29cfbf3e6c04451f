/** Small statistics for benchmarks: medians and spreads of repeated runs. */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seconds of one call of `fn`, measured with the monotonic clock. */
export async function seconds(fn: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Runs `fn` `warmup` times unmeasured, then `runs` times; returns each run's seconds. */
export async function repeat(fn: () => unknown | Promise<unknown>, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await seconds(fn));
  return out;
}

/** Prints rows as an aligned text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

/** The value after `--name` on the command line, or `def`. */
export function stringArg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

/** The number after `--name` on the command line, or `def`. */
export function numberArg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** The comma-separated numbers after `--name` on the command line, or `def`. */
export function numbersArg(name: string, def: number[]): number[] {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1].split(",").map(Number) : def;
}
