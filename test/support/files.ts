/** Scratch folders, byte-for-byte snapshots and simulated crashes for the save tests. */
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";

/** A new empty folder under the OS temp dir (its real path). */
export async function scratch(prefix = "slimlab-safe-"): Promise<string> {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
}

/** Writes files (relative path → content), creating folders. */
export async function plant(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await fs.writeFile(path.join(root, name), text);
  }
}

/** Every entry under `root`: relative path → file bytes as hex, or "<dir>" / "<link>". */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, r));
      if (st.isSymbolicLink()) out[r] = "<link>";
      else if (st.isDirectory()) {
        out[r] = "<dir>";
        await walk(r);
      } else out[r] = (await fs.readFile(path.join(root, r))).toString("hex");
    }
  };
  await walk("");
  return out;
}

/** Asserts `root` holds exactly what `before` recorded, byte for byte. */
export async function assertUnchanged(root: string, before: Record<string, string>): Promise<void> {
  assert.deepStrictEqual(await snapshotTree(root), before, `${root} changed`);
}

/** Runs `fn` with the working directory (and optionally $HOME) set, restoring both after. */
export async function withCwd<T>(cwd: string, fn: () => Promise<T>, home?: string): Promise<T> {
  const oldCwd = process.cwd();
  const oldHome = process.env.HOME;
  process.chdir(cwd);
  if (home !== undefined) process.env.HOME = home;
  try {
    return await fn();
  } finally {
    process.chdir(oldCwd);
    if (home !== undefined) {
      if (oldHome === undefined) delete process.env.HOME;
      else process.env.HOME = oldHome;
    }
  }
}

/**
 * An onStep callback that freezes the save at its `k`-th step (0-based), as
 * if the process were killed there: the returned promise never settles, so
 * the writer never runs another line. `reached` resolves with the step's name.
 */
export function crashAt(k: number): { onStep: (step: string) => Promise<void>; reached: Promise<string> } {
  let calls = 0;
  let hit: (s: string) => void = () => undefined;
  const reached = new Promise<string>((r) => (hit = r));
  return {
    reached,
    onStep: (step: string) => {
      if (calls++ !== k) return Promise.resolve();
      hit(step);
      return new Promise<void>(() => undefined);
    },
  };
}

/** Records the steps a save goes through. */
export function recordSteps(): { onStep: (step: string) => void; steps: string[] } {
  const steps: string[] = [];
  return { steps, onStep: (s: string) => void steps.push(s) };
}

/** Waits until the save `p` freezes at crashAt's step; fails if it finishes or fails first. */
export async function untilCrash(p: Promise<unknown>, reached: Promise<string>): Promise<string> {
  const ended = p.then(
    () => Promise.reject(new Error("the save finished before the simulated crash")),
    (e) => Promise.reject(e)
  );
  return Promise.race([reached, ended]);
}
