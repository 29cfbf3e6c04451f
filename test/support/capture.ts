/** The type of process.stdout.write / process.stderr.write. */
export type Write = typeof process.stdout.write;

/**
 * Runs `fn` with process.stdout/stderr.write replaced by `writes` (a cell
 * runner's captured writers) and puts the originals back afterwards, even
 * when `fn` throws.
 */
export async function withWrites<T>(writes: { stdout: Write; stderr: Write }, fn: () => Promise<T>): Promise<T> {
  const orig = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = writes.stdout;
  process.stderr.write = writes.stderr;
  try {
    return await fn();
  } finally {
    process.stdout.write = orig.stdout;
    process.stderr.write = orig.stderr;
  }
}

/**
 * Calls `make` (which constructs a CellRunner: the runner replaces
 * process.stdout/stderr.write with writers that route a running cell's
 * output to its sinks), hands back those writers, and puts the process's
 * own writers back until a test runs a cell with {@link withWrites}.
 */
export function takeWrites<T>(make: () => T): { made: T; writes: { stdout: Write; stderr: Write } } {
  const orig = { stdout: process.stdout.write, stderr: process.stderr.write };
  const made = make();
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = orig.stdout;
  process.stderr.write = orig.stderr;
  return { made, writes };
}
