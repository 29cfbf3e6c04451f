/**
 * What a save may write to, and what it may replace.
 *
 * Rule: slimlab never deletes what it did not write. A save may go to a path
 * that does not exist, to an empty directory, or, with force, over an earlier
 * slimlab save: a directory holding the marker file `.slimlab-save.json`
 * (which lists the files slimlab wrote there), or a single file its caller
 * recognises as its own (e.g. by magic bytes, {@link isSlimlabFile}).
 * Everything else is refused with one line, force or not.
 *
 * Some places are refused even with a marker, because replacing them would
 * take the user's work with them: the working directory and its ancestors,
 * the home directory and its ancestors, and a filesystem root.
 *
 * A directory written by a slimlab older than the marker is refused like any
 * other non-empty directory: nothing in it proves slimlab wrote every file, so
 * the message says to delete it by hand if it is an old save.
 *
 * Files named `.slimlab-tmp-<12 hex>-<name>` are slimlab's temporaries
 * (safe-write.ts); they do not make a directory non-empty and are removed by
 * the next save of that target.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import type { FileHandle } from "fs/promises";
import * as os from "os";
import * as path from "path";
import { SlimlabError, show } from "../core/errors";

/** Name of the marker file in every directory slimlab saves. */
export const SAVE_MARKER = ".slimlab-save.json";

/** What the marker holds. */
export interface SaveMarker {
  format: "slimlab-save";
  version: 1;
  /** ISO date of the save. */
  date: string;
  /** What was saved, e.g. "tfjs" or "compact" (informative). */
  kind?: string;
  /** Every file (relative, "/"-separated) slimlab may have written here and not yet removed. */
  files: string[];
}

const TEMP = /^\.slimlab-tmp-[0-9a-f]{12}-(.+)$/;

/**
 * A fresh temporary name for a file that will be renamed to `base`.
 *
 * @param base the final file name (no directory)
 * @returns `.slimlab-tmp-<12 hex>-<base>`
 * @example
 *   tempName("model.json"); // ".slimlab-tmp-3f9c0a17b2e4-model.json"
 */
export function tempName(base: string): string {
  return `.slimlab-tmp-${randomBytes(6).toString("hex")}-${base}`;
}

/**
 * Whether `name` is one of slimlab's temporary names, optionally for the final name `base` only.
 *
 * @param name a file name (no directory)
 * @param base when given, only temporaries of this final name match
 * @returns true for `.slimlab-tmp-<12 hex>-<base>`
 * @example
 *   isTempName(".slimlab-tmp-3f9c0a17b2e4-model.json", "model.json"); // true
 */
export function isTempName(name: string, base?: string): boolean {
  const m = TEMP.exec(name);
  return m !== null && (base === undefined || m[1] === base);
}

/**
 * Whether `name` is a plain relative path ("a/b.bin") that stays inside its directory.
 *
 * @param name a "/"-separated relative path
 * @returns false for "", absolute paths, backslashes, and "." or ".." segments
 * @example
 *   isInsideName("tfjs/model.json"); // true
 *   isInsideName("../x"); // false
 */
export function isInsideName(name: string): boolean {
  if (typeof name !== "string" || name === "" || name.includes("\\") || name.includes("\0") || path.isAbsolute(name)) return false;
  return name.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/**
 * Checks marker text; pure.
 *
 * @param text the content of `.slimlab-save.json`
 * @returns the marker, or a short reason why it is not a valid one
 * @example
 *   parseMarker('{"format":"slimlab-save","version":1,"date":"","files":["model.json"]}'); // a SaveMarker
 */
export function parseMarker(text: string): SaveMarker | string {
  let m: Partial<SaveMarker>;
  try {
    m = JSON.parse(text);
  } catch {
    return "it is not JSON";
  }
  if (typeof m !== "object" || m === null || m.format !== "slimlab-save") return `its format is ${show((m as { format?: unknown })?.format)}, not "slimlab-save"`;
  if (m.version !== 1) return `its version is ${show(m.version)}; this slimlab reads version 1`;
  if (!Array.isArray(m.files)) return "it has no file list";
  const bad = m.files.find((f) => !isInsideName(f) || f === SAVE_MARKER);
  if (bad !== undefined) return `it lists ${show(bad)}, which is not a file inside the directory`;
  return m as SaveMarker;
}

/** Where the user works; protectedPlace compares against these. */
export interface Places {
  cwd: string;
  home: string;
}

/** Whether `a` is `b` or an ancestor of `b` (both absolute, normalised). */
function isSameOrAncestor(a: string, b: string): boolean {
  const rel = path.relative(a, b);
  return rel === "" || (rel.split(path.sep)[0] !== ".." && !path.isAbsolute(rel));
}

/**
 * Why `target` may never be replaced by a save, if it is such a place; pure.
 *
 * @param target an absolute, normalised path
 * @param places the working and home directories (absolute)
 * @returns e.g. "the working directory", "an ancestor of the home directory
 *   (\"/home/ann\")", "a filesystem root", or undefined when it is none of them
 * @example
 *   protectedPlace("/work", { cwd: "/work/nb", home: "/home/ann" }); // 'an ancestor of the working directory ("/work/nb")'
 */
export function protectedPlace(target: string, places: Places): string | undefined {
  if (path.parse(target).root === target) return "a filesystem root";
  const cwd = path.resolve(places.cwd);
  const home = path.resolve(places.home);
  if (target === cwd) return "the working directory";
  if (isSameOrAncestor(target, cwd)) return `an ancestor of the working directory (${show(cwd)})`;
  if (target === home) return "the home directory";
  if (isSameOrAncestor(target, home)) return `an ancestor of the home directory (${show(home)})`;
  return undefined;
}

/** The real path of `p` when it exists, else `p`. */
async function realOr(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return p;
  }
}

/** protectedPlace for the path as written and as symlinks resolve it, against the real and given cwd and home. */
async function protectedReason(abs: string): Promise<string | undefined> {
  const cwd = process.cwd();
  const home = os.homedir();
  const targets = [abs, await realOr(abs)];
  const placeSets: Places[] = [{ cwd, home }, { cwd: await realOr(cwd), home: await realOr(home) }];
  for (const t of targets) for (const places of placeSets) {
    const why = protectedPlace(t, places);
    if (why !== undefined) return why;
  }
  return undefined;
}

/** What assertReplaceable found at the target. */
export type TargetState =
  | { state: "absent" }
  | { state: "empty" }
  | { state: "save"; marker: SaveMarker }
  | { state: "own-file" };

export interface ReplaceOptions {
  /** The public function's name, first in error messages. */
  fn: string;
  /** Allow replacing an earlier slimlab save (never anything else). Default false. */
  force?: boolean;
  /** Whether the target is a save directory (default) or a single file. */
  kind?: "dir" | "file";
  /** For kind "file": whether an existing file is slimlab's own, e.g. `(p) => isSlimlabFile(p, SLIM_MAGIC)`. */
  ownedIf?: (file: string) => Promise<boolean>;
}

/**
 * Checks that a save may write to `target`, before any work or write.
 *
 * @param target the directory (kind "dir") or file (kind "file") a save will write
 * @param opts fn for messages, force, kind, ownedIf
 * @returns what is there: nothing, an empty directory, an earlier save (with its marker), or an own file
 * @throws SlimlabError E_FILE, one line naming the path and why, when the
 *   target is a protected place (working directory, home, their ancestors, a
 *   root), of the wrong kind, an earlier save without force, a directory or
 *   file slimlab did not write, or a directory with a damaged marker
 * @example
 *   await assertReplaceable("out/q8", { fn: "quantize", force: true });
 */
export async function assertReplaceable(target: string, opts: ReplaceOptions): Promise<TargetState> {
  const { fn } = opts;
  const kind = opts.kind ?? "dir";
  const abs = path.resolve(target);
  const why = await protectedReason(abs);
  if (why !== undefined) {
    const example = kind === "dir" ? "./saved-model" : "./model.slim";
    throw new SlimlabError("E_FILE", `${fn}: ${show(target)} is ${why}, which a save never replaces (--force only replaces an earlier slimlab save); choose a new ${kind === "dir" ? "directory" : "file"} such as ${show(example)}`);
  }
  const stat = await (kind === "file" ? fs.lstat(abs) : fs.stat(abs)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw new SlimlabError("E_FILE", `${fn}: cannot access ${show(target)}: ${e.message}`);
  });
  if (stat === null) return { state: "absent" };
  if (kind === "file") {
    if (stat.isDirectory()) throw new SlimlabError("E_FILE", `${fn}: ${show(target)} is a directory, not a file; choose a file path`);
    if (!stat.isFile()) throw new SlimlabError("E_FILE", `${fn}: ${show(target)} is not a regular file (a link or device); choose a new file path`);
    if (opts.force !== true) throw new SlimlabError("E_FILE", `${fn}: file ${show(target)} exists; pass --force (force: true) to replace it, or choose another file name`);
    if (opts.ownedIf !== undefined && (await opts.ownedIf(abs))) return { state: "own-file" };
    throw new SlimlabError("E_FILE", `${fn}: file ${show(target)} was not written by slimlab; --force only replaces a file slimlab wrote, so choose a new file name, or delete this one by hand`);
  }
  if (!stat.isDirectory()) throw new SlimlabError("E_FILE", `${fn}: ${show(target)} is a file, not a directory; choose a directory path`);
  const names = (await fs.readdir(abs)).filter((n) => !isTempName(n));
  if (names.length === 0) return { state: "empty" };
  let text: string | undefined;
  try {
    text = await fs.readFile(path.join(abs, SAVE_MARKER), "utf8");
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    throw new SlimlabError("E_FILE", `${fn}: directory ${show(target)} is not empty and is not a slimlab save (no ${SAVE_MARKER}); slimlab only replaces its own saves, so choose a new directory, or delete this one by hand if it is a save from an older slimlab`);
  }
  const marker = parseMarker(text);
  if (typeof marker === "string") {
    throw new SlimlabError("E_FILE", `${fn}: the ${SAVE_MARKER} in ${show(target)} is damaged (${marker}), so slimlab cannot tell which files it wrote; choose a new directory, or delete this one by hand`);
  }
  if (opts.force !== true) {
    throw new SlimlabError("E_FILE", `${fn}: directory ${show(target)} holds an earlier slimlab save; pass --force (force: true) to replace it, or choose another directory`);
  }
  return { state: "save", marker };
}

/**
 * Whether `file` begins with `magic`: the hook for single-file formats (a
 * `.slim` file starts with its magic bytes) to let force replace only their own files.
 *
 * @param file a path
 * @param magic the expected first bytes (a string is taken as UTF-8)
 * @returns true when the file exists, is readable and starts with `magic`; false otherwise
 * @example
 *   await writeFileAtomic("m.slim", bytes, { fn: "saveSlim", force: true, ownedIf: (p) => isSlimlabFile(p, "SLIM") });
 */
export async function isSlimlabFile(file: string, magic: Uint8Array | string): Promise<boolean> {
  const want = typeof magic === "string" ? Buffer.from(magic, "utf8") : Buffer.from(magic);
  if (want.length === 0) return false;
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(file, "r");
    const got = Buffer.alloc(want.length);
    const { bytesRead } = await handle.read(got, 0, want.length, 0);
    return bytesRead === want.length && got.equals(want);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}
