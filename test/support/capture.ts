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
