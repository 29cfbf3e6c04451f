/**
 * Finds what a notebook, README or doc cites and checks that it is in the
 * repository: repository paths written out (`docs/references.md#han-2015`,
 * `bench/quantize.ts`, `plugins/...`, `notebooks/...ipynb`), relative
 * markdown links, and anchors into this repository's markdown files. Sources
 * that readers of the repository cannot open (the project's private notes,
 * the article texts) must not be mentioned at all.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** Mentions that point outside the repository, whatever follows them. */
export const FORBIDDEN: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /REFERENCES\.md/g, why: "REFERENCES.md is not in this repository; cite docs/references.md#<anchor>" },
  { pattern: /(?<![\w-])seeds\//g, why: "the article texts (seeds/) are not in this repository; cite docs/references.md#article-NNN" },
  { pattern: /\/work\/[\w.-]+/g, why: "an absolute path on one machine; cite a file of the repository" },
];

/** Top-level folders whose paths, written out in prose or code, are citations of repository files. */
const ROOTS = ["docs", "bench", "plugins", "kernel", "test", "notebooks", "examples", "bin", ".ci"];
/** Files at the top level that prose cites by name. */
const TOP_FILES = ["README.md", "package.json", "environment.yml", "tsconfig.json", "index.ts"];

export interface Violation {
  /** Where the text came from, e.g. "notebooks/01-x.ipynb cell 3". */
  source: string;
  /** What was cited, as written. */
  cited: string;
  why: string;
}

/** The repository as the checker sees it: which paths exist, and a markdown file's text. */
export interface Repo {
  /** A file or a folder (with or without a trailing slash) of the repository. */
  has(rel: string): boolean;
  /** Text of a repository file (only called for paths `has` accepted). */
  read(rel: string): string;
}

/** The repository at `root`: files tracked by git when git answers, else files on disk. */
export function repoAt(root: string): Repo {
  let tracked: Set<string> | undefined;
  try {
    const out = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    tracked = new Set(out.split("\0").filter((f) => f !== ""));
  } catch {
    tracked = undefined;
  }
  const dirs = new Set<string>();
  if (tracked) for (const f of tracked) for (let d = path.posix.dirname(f); d !== "."; d = path.posix.dirname(d)) dirs.add(d);
  return {
    has(rel) {
      const clean = rel.replace(/\/+$/, "");
      if (clean === "" || clean.startsWith("..")) return false;
      if (tracked) return tracked.has(clean) || dirs.has(clean);
      return fs.existsSync(path.join(root, clean));
    },
    read(rel) {
      return fs.readFileSync(path.join(root, rel), "utf8");
    },
  };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Anchors a markdown file offers: explicit `id="..."` / `name="..."` and heading slugs. */
export function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]);
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) out.add(headingSlug(m[1]));
  return out;
}

/** Drops punctuation that ends a sentence or wraps a path in prose. */
function trimPath(p: string): string {
  return p.replace(/[.,;:)\]'"`]+$/, "");
}

/** Checks `target` (a repo-relative path, optionally with #anchor); returns a reason or undefined. */
function checkTarget(repo: Repo, target: string): string | undefined {
  const [file, anchor] = target.split("#", 2);
  if (!repo.has(file)) return `${file} is not a file or folder of the repository`;
  if (anchor !== undefined && anchor !== "" && file.endsWith(".md") && !anchorsOf(repo.read(file)).has(anchor)) {
    return `${file} has no anchor #${anchor}`;
  }
  return undefined;
}

/**
 * Every citation in `text` that does not hold.
 *
 * @param text prose or code to scan
 * @param source label for messages
 * @param dir the folder of the file the text is in, relative to the repository root ("" for the root),
 *   against which relative markdown links resolve
 * @param repo what exists
 * @returns the violations, in the order they occur
 * @example
 *   checkCitations("see docs/nope.md", "README.md", "", repo); // [{ cited: "docs/nope.md", ... }]
 */
export function checkCitations(text: string, source: string, dir: string, repo: Repo): Violation[] {
  const out: Violation[] = [];
  for (const { pattern, why } of FORBIDDEN) {
    for (const m of text.matchAll(pattern)) out.push({ source, cited: m[0], why });
  }
  // Repository paths written out: docs/x.md#a, bench/y.ts, notebooks/z.ipynb, plugins/..., README.md.
  const rooted = new RegExp(`(?<![\\w./\\-])((?:${ROOTS.map((r) => r.replace(".", "\\.")).join("|")})/[\\w./#\\-]*|(?:${TOP_FILES.map((f) => f.replace(".", "\\.")).join("|")})(?:#[\\w\\-]+)?)`, "g");
  for (const m of text.matchAll(rooted)) {
    const cited = trimPath(m[1]);
    // A citation names a file (with an extension) or a folder (with a trailing slash): "examples/s" is a rate.
    const file = cited.split("#", 1)[0];
    if (!file.endsWith("/") && !/\.[\w-]+$/.test(path.posix.basename(file))) continue;
    const why = checkTarget(repo, cited);
    if (why) out.push({ source, cited, why });
  }
  // Relative markdown links: [text](target) and [text](target "title").
  for (const m of text.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue; // URLs and same-file anchors
    const [file, anchor] = target.split("#", 2);
    const rel = path.posix.normalize(path.posix.join(dir, decodeURIComponent(file)));
    const why = checkTarget(repo, anchor === undefined ? rel : `${rel}#${anchor}`);
    if (why) out.push({ source, cited: target, why });
  }
  return out;
}

/** Each cell of a notebook as [label, text]: markdown and code alike. */
export function notebookCells(json: string, file: string): [string, string][] {
  const nb = JSON.parse(json) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells.map((c, i) => [`${file} cell ${i} (${c.cell_type})`, Array.isArray(c.source) ? c.source.join("") : c.source]);
}
