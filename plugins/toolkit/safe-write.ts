/**
 * Crash-safe writing of saves: a single file, or a save directory.
 *
 * What may be written or replaced is decided by safe-target.ts (re-exported
 * here): never anything slimlab did not write.
 *
 * Single files (writeFileAtomic): the bytes go to a temporary file in the
 * same directory, are fsynced, and the temporary is renamed over the target.
 * rename(2) is atomic, so the target always holds the old or the new file.
 *
 * Directories (writeSaveDir): rename(2) cannot replace a non-empty directory,
 * and exchanging two paths (renameat2 RENAME_EXCHANGE) has no Node API, so
 * moving a finished directory into place always has an instant with nothing
 * at the target (the old code's bug). Instead the save directory stays, and
 * its content is replaced file by file, each file by an atomic rename:
 *
 *   1. every new file is written and fsynced under a temporary name
 *      (`.slimlab-tmp-<hex>-<name>`) in its final directory;
 *   2. the marker `.slimlab-save.json` is rewritten (atomically) listing the
 *      old and the new files, so every non-temporary file slimlab puts there
 *      is listed before it appears;
 *   3. data files (weight shards, codes) are renamed into place. When a save
 *      is replaced their names carry a fresh tag (`group1-shard1of1.<tag>.bin`,
 *      see {@link tagged}), so no file the old model.json names ever changes;
 *   4. entry files (model.json, quantized.json), which name the data files,
 *      are renamed into place last: each rename switches that entry point from
 *      the old model to the new one in one step;
 *   5. old files no longer needed are removed and the marker lists only the
 *      new ones.
 *
 * A crash anywhere leaves a loadable model at the target: the old one before
 * step 4, the new one after it. What a crash leaves behind (temporaries, old
 * files still listed in the marker) is removed by the next save of that
 * target, as are `.NAME.tmp-XXXXXX` directories that older slimlab versions
 * left beside the target. Two saves to one target at the same time are not
 * supported.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import * as path from "path";
import { SlimlabError, isSlimlabError, show } from "../core/errors";
import { SAVE_MARKER, SaveMarker, assertReplaceable, isInsideName, isTempName, tempName } from "./safe-target";

export * from "./safe-target";

/** One file of a save. */
export interface SaveFile {
  /** Path inside the save directory, "/"-separated (e.g. "tfjs/model.json"). */
  name: string;
  data: Uint8Array | string;
  /**
   * An entry point that names other files (model.json): renamed into place
   * after all data files, and may replace a file of the same name. A data
   * file (entry not set) must have a name not present in the directory.
   */
  entry?: boolean;
}

export interface SaveDirOptions {
  /** The public function's name, first in error messages. */
  fn: string;
  /** Replace an earlier slimlab save (never anything else). Default false. */
  force?: boolean;
  /** Recorded in the marker, e.g. "tfjs" or "compact". */
  kind?: string;
  /**
   * Called after each durable step ("written", "marked", "placed <name>",
   * "cleaned") and awaited: for progress, and for tests that simulate a crash
   * (a promise that never settles leaves the files as a kill would).
   */
  onStep?: (step: string) => void | Promise<void>;
}

/** What writeSaveDir wrote. */
export interface SaveDirResult {
  /** Absolute path of the directory. */
  dir: string;
  /** The files of this save, as built (the marker not included). */
  files: string[];
  /** The tag given to build: "" for a new or empty directory. */
  tag: string;
}

/**
 * Inserts a save's tag before a file name's extension.
 *
 * @param name e.g. "group1-shard1of1.bin"
 * @param tag from writeSaveDir's build callback; "" leaves the name unchanged
 * @returns e.g. "group1-shard1of1.3fa9c2e1.bin"
 * @example
 *   tagged("codes.bin", "3fa9c2e1"); // "codes.3fa9c2e1.bin"
 */
export function tagged(name: string, tag: string): string {
  if (tag === "") return name;
  const dot = name.lastIndexOf(".");
  const slash = name.lastIndexOf("/");
  return dot > slash + 1 ? `${name.slice(0, dot)}.${tag}${name.slice(dot)}` : `${name}.${tag}`;
}

function fileError(fn: string, target: string, e: unknown): SlimlabError {
  if (isSlimlabError(e)) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new SlimlabError("E_FILE", `${fn}: cannot write ${show(target)}: ${why}`);
}

/** Creates `file` (which must not exist), writes `data` and fsyncs it. */
async function writeDurable(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory so the renames in it survive a power cut (where the platform allows it). */
async function syncDir(dir: string): Promise<void> {
  let handle: import("fs/promises").FileHandle | undefined;
  try {
    handle = await fs.open(dir, "r");
    await handle.sync();
  } catch {
    // some platforms cannot open or fsync a directory; the renames are still atomic
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Removes a file if present; never a directory. */
async function unlinkQuiet(file: string): Promise<void> {
  await fs.unlink(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT" && e.code !== "EISDIR" && e.code !== "EPERM") throw e;
  });
}

/** Removes slimlab temporaries in `dir` (only of `base` when given). */
async function removeTemps(dir: string, base?: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names) if (isTempName(n, base)) await unlinkQuiet(path.join(dir, n));
}

/** Removes `.NAME.tmp-XXXXXX` directories that older slimlab versions (mkdtemp beside the target) left after a crash. */
async function removeLegacyTemps(target: string): Promise<void> {
  const parent = path.dirname(target);
  const base = path.basename(target);
  for (const n of await fs.readdir(parent).catch(() => [] as string[])) {
    if (!n.startsWith(`.${base}.tmp-`) || !/^[A-Za-z0-9]{6}$/.test(n.slice(base.length + 6))) continue;
    const p = path.join(parent, n);
    if ((await fs.lstat(p)).isDirectory()) await fs.rm(p, { recursive: true, force: true });
  }
}

/** Removes the listed files of a save, then the subdirectories they leave empty. */
async function removeFiles(dir: string, names: readonly string[]): Promise<void> {
  const parents = new Set<string>();
  for (const n of names) {
    await unlinkQuiet(path.join(dir, n));
    for (let d = path.posix.dirname(n); d !== "."; d = path.posix.dirname(d)) parents.add(d);
  }
  const deepestFirst = [...parents].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const d of deepestFirst) await fs.rmdir(path.join(dir, d)).catch(() => undefined);
}

/** Replaces the marker atomically. */
async function writeMarker(dir: string, files: readonly string[], kind: string | undefined): Promise<void> {
  const marker: SaveMarker = { format: "slimlab-save", version: 1, date: new Date().toISOString(), ...(kind === undefined ? {} : { kind }), files: [...files] };
  const tmp = path.join(dir, tempName(SAVE_MARKER));
  await writeDurable(tmp, `${JSON.stringify(marker, null, 1)}\n`);
  await fs.rename(tmp, path.join(dir, SAVE_MARKER));
}

function checkFiles(fn: string, files: readonly SaveFile[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    const base = path.posix.basename(f.name ?? "");
    if (!isInsideName(f.name) || f.name === SAVE_MARKER || isTempName(base) || seen.has(f.name)) {
      throw new SlimlabError("E_ARG", `${fn}: save file name ${show(f.name)} is not allowed; use unique relative paths without "..", other than ${SAVE_MARKER} and slimlab's temporary names`);
    }
    seen.add(f.name);
  }
}

/**
 * Writes a save directory crash-safely (module comment): creates it, or
 * fills an empty one, or with force replaces an earlier slimlab save; a
 * marker `.slimlab-save.json` records the files written.
 *
 * @param dir target directory
 * @param build returns the files for a tag: "" for a new or empty directory
 *   (use the standard names), else a fresh tag to put in data file names with
 *   {@link tagged} so they differ from the old save's
 * @param opts fn for messages, force, kind, onStep
 * @returns the directory, the files written and the tag
 * @throws SlimlabError E_FILE as assertReplaceable, or when writing fails
 *   (the previous save then still loads); E_ARG for bad file names
 * @example
 *   await writeSaveDir("out/m", (tag) => [
 *     { name: tagged("weights.bin", tag), data: bytes },
 *     { name: "model.json", data: JSON.stringify({ weights: tagged("weights.bin", tag) }), entry: true },
 *   ], { fn: "saveThing", force: true });
 */
export async function writeSaveDir(dir: string, build: (tag: string) => SaveFile[], opts: SaveDirOptions): Promise<SaveDirResult> {
  const { fn } = opts;
  const step = async (s: string) => opts.onStep?.(s);
  const target = path.resolve(dir);
  const state = await assertReplaceable(dir, { fn, force: opts.force, kind: "dir" });
  const tag = state.state === "save" ? randomBytes(4).toString("hex") : "";
  const built = build(tag);
  checkFiles(fn, built);
  const ordered = [...built.filter((f) => f.entry !== true), ...built.filter((f) => f.entry === true)];
  const names = ordered.map((f) => f.name);
  const old = state.state === "save" ? state.marker.files : [];
  const temps = new Map<string, string>();
  try {
    if (state.state === "absent") await fs.mkdir(target, { recursive: true });
    const subdirs = new Set([...names, ...old].map((n) => path.posix.dirname(n)));
    for (const d of subdirs) await removeTemps(path.join(target, d));
    await removeLegacyTemps(target);
    for (const f of ordered) {
      // Only an entry the earlier save wrote may be replaced; data files get new names.
      const exists = await fs.lstat(path.join(target, f.name)).then(() => true, () => false);
      if (exists && !(f.entry === true && old.includes(f.name))) {
        throw new SlimlabError("E_FILE", `${fn}: ${show(dir)} already holds ${show(f.name)}, which the earlier slimlab save did not write; move that file away or choose a new directory`);
      }
    }
    for (const f of ordered) {
      const final = path.join(target, f.name);
      await fs.mkdir(path.dirname(final), { recursive: true });
      const tmp = path.join(path.dirname(final), tempName(path.basename(final)));
      temps.set(f.name, tmp);
      await writeDurable(tmp, f.data);
    }
    await step("written");
    await writeMarker(target, [...new Set([...old, ...names])], opts.kind);
    await syncDir(target);
    await step("marked");
    for (const f of ordered) {
      await fs.rename(temps.get(f.name) as string, path.join(target, f.name));
      temps.delete(f.name);
      await step(`placed ${f.name}`);
    }
    for (const d of subdirs) await syncDir(path.join(target, d));
  } catch (e) {
    for (const tmp of temps.values()) await unlinkQuiet(tmp).catch(() => undefined);
    // A new or empty directory held nothing of the user's: take back what this save put there.
    if (state.state !== "save") await removeFiles(target, [...names, SAVE_MARKER]).catch(() => undefined);
    if (state.state === "absent") await fs.rmdir(target).catch(() => undefined);
    throw fileError(fn, dir, e);
  }
  // The new save is in place. Tidying is best effort: files it cannot remove stay listed in the marker for the next save.
  const stale = old.filter((n) => !names.includes(n));
  const tidied = await removeFiles(target, stale).then(() => true, () => false);
  await step("cleaned");
  if (tidied) await writeMarker(target, names, opts.kind).catch(() => undefined);
  return { dir: target, files: built.map((f) => f.name), tag };
}

export interface AtomicFileOptions {
  /** The public function's name, first in error messages. */
  fn: string;
  /** Replace an existing file, only when ownedIf says it is slimlab's. Default false. */
  force?: boolean;
  /** Whether an existing file is slimlab's own, e.g. `(p) => isSlimlabFile(p, SLIM_MAGIC)`. Without it force replaces nothing. */
  ownedIf?: (file: string) => Promise<boolean>;
  /** Called after the temporary file is written ("written"), before the rename; see SaveDirOptions.onStep. */
  onStep?: (step: string) => void | Promise<void>;
}

/**
 * Writes one file atomically: a temporary file in the same directory,
 * fsynced, renamed over the target (so it always holds the old or the new
 * bytes). Temporaries a crash left for this file name are removed first.
 *
 * @param file target path; its directory is created if missing
 * @param data the bytes (a string is written as UTF-8)
 * @param opts fn for messages; force with ownedIf to replace an own file
 * @returns the absolute path written
 * @throws SlimlabError E_FILE as assertReplaceable (kind "file"), or when writing fails
 * @example
 *   await writeFileAtomic("out/m.slim", bytes, { fn: "saveSlim", force: true, ownedIf: (p) => isSlimlabFile(p, SLIM_MAGIC) });
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, opts: AtomicFileOptions): Promise<string> {
  const { fn } = opts;
  const target = path.resolve(file);
  await assertReplaceable(file, { fn, force: opts.force, kind: "file", ownedIf: opts.ownedIf });
  const parent = path.dirname(target);
  const base = path.basename(target);
  let tmp: string | undefined;
  try {
    await fs.mkdir(parent, { recursive: true });
    await removeTemps(parent, base);
    tmp = path.join(parent, tempName(base));
    await writeDurable(tmp, data);
    await opts.onStep?.("written");
    await fs.rename(tmp, target);
    tmp = undefined;
    await syncDir(parent);
  } catch (e) {
    if (tmp !== undefined) await unlinkQuiet(tmp).catch(() => undefined);
    throw fileError(fn, file, e);
  }
  return target;
}
