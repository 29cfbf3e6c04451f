/**
 * `%run file.ts`: a file run in the notebook's namespace, so that its
 * top-level declarations become notebook variables, as IPython's %run does.
 *
 * TypeScript must know those declarations before it type-checks the lines
 * that use them, so a cell holding `%run` lines is cut there: the lines
 * before run, then the `%run` line (whose magic names the file), then the
 * file itself as a cell of its own, then the lines after, type-checked
 * against everything so far. Each part keeps its line numbers (it is
 * padded with the empty lines above it), so errors name the user's lines.
 * A `%run` therefore stands alone on its line at the top level of a cell.
 */
import * as fs from "fs";
import * as path from "path";
import { SlimlabError } from "../plugins/core/errors";
import { MagicLookup } from "./magics/expand";
import { scanMagics } from "./magics/scan";
import { tokenize } from "./magics/tokens";
import { typescript } from "./tslab-adapter";

export const RUN_MAGIC = "run";

/** A piece of a cell: its code (padded to keep line numbers), and whether it is a `%run` line. */
export interface CellPart {
  code: string;
  runLine: boolean;
}

const CELL_MAGIC = /^\s*%%[A-Za-z_]/;

/**
 * Cuts `src` at its `%run` lines; undefined when it has none (or is a cell
 * magic's cell, which runs as one). Throws E_ARG for a `%run` that does not
 * stand alone on a line at the top level.
 */
export function splitAtRunLines(src: string, lookup: MagicLookup): CellPart[] | undefined {
  if (!lookup.get(RUN_MAGIC) || CELL_MAGIC.test(src.split("\n", 1)[0]) || !src.includes(`%${RUN_MAGIC}`)) return undefined;
  const runLines: number[] = [];
  scanMagics(src, 0, (site) => {
    if (site.shell) return lineEnd(src, site.start);
    if (site.name !== RUN_MAGIC || site.help) return undefined;
    const lineStart = src.lastIndexOf("\n", site.start - 1) + 1;
    const end = lineEnd(src, site.start);
    let argsEnd: number;
    try {
      argsEnd = tokenize(src, site.argsStart, RUN_MAGIC).end;
    } catch {
      return undefined; // the expansion reports it
    }
    const alone = src.slice(lineStart, site.start).trim() === "" && /^\s*;?\s*(\/\/.*)?$/.test(src.slice(argsEnd, end));
    if (!alone || site.depth > 0 || site.placement !== "statement") {
      throw new SlimlabError("E_ARG", "%run must stand alone on a line at the top level of a cell: the file's declarations become notebook variables before the lines after it are type-checked");
    }
    runLines.push(src.slice(0, lineStart).split("\n").length - 1);
    return end;
  });
  if (runLines.length === 0) return undefined;
  const lines = src.split("\n");
  const parts: CellPart[] = [];
  let from = 0;
  const add = (start: number, end: number, runLine: boolean) => {
    const body = lines.slice(start, end).join("\n");
    if (body.trim() !== "") parts.push({ code: "\n".repeat(start) + body, runLine });
  };
  for (const line of runLines) {
    add(from, line, false);
    add(line, line + 1, true);
    from = line + 1;
  }
  add(from, lines.length, false);
  return parts;
}

function lineEnd(src: string, pos: number): number {
  const i = src.indexOf("\n", pos);
  return i < 0 ? src.length : i;
}

/** What `%run` runs: the file's source, how to convert it, and what errors call it. */
export interface RunnableFile {
  file: string;
  source: string;
  language: "ts" | "js";
  label: string;
}

const EXTENSIONS: Record<string, "ts" | "js"> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".js": "js", ".mjs": "js", ".cjs": "js" };

/** Reads the file `%run` names (relative to `cwd`). Throws E_FILE naming what is wrong. */
export function readRunnable(file: string, cwd: string): RunnableFile {
  const abs = path.resolve(cwd, file.replace(/^~(?=$|\/)/, process.env.HOME ?? "~"));
  let ext = path.extname(abs);
  let target = abs;
  if (ext === "" && !fs.existsSync(abs)) {
    const found = [".ts", ".js"].map((e) => abs + e).find((f) => fs.existsSync(f));
    if (found) [target, ext] = [found, path.extname(found)];
  }
  const language = EXTENSIONS[ext];
  if (!language) throw new SlimlabError("E_FILE", `%run: ${JSON.stringify(file)} is not a TypeScript or JavaScript file (.ts, .js, .mts, .mjs, .cts, .cjs)`);
  let source: string;
  try {
    source = fs.readFileSync(target, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a folder, not a file" : (e as Error).message;
    throw new SlimlabError("E_FILE", `%run: cannot read ${JSON.stringify(target)}: ${why}`);
  }
  // A shebang line is no TypeScript; keep the line, empty, so line numbers hold.
  if (source.startsWith("#!")) source = source.replace(/^#![^\n]*/, "");
  return { file: target, source: withoutExports(source), language, label: path.basename(target) };
}

interface TsNode {
  kind: number;
  end: number;
  modifiers?: TsNode[];
  moduleSpecifier?: unknown;
  getStart(file?: unknown): number;
}

/**
 * A module file run as a script (as IPython's %run does): the `export`
 * (and `export default`) of its top-level declarations and its local
 * `export { a, b }` lists are blanked out, keeping every line and column,
 * since a cell's top-level declarations are what the notebook keeps.
 */
export function withoutExports(src: string): string {
  if (!/\bexport\b/.test(src)) return src;
  const ts = typescript() as unknown as {
    createSourceFile(name: string, text: string, target: number, setParents: boolean, kind: number): { statements: TsNode[] };
    SyntaxKind: Record<string, number>;
    ScriptTarget: Record<string, number>;
    ScriptKind: Record<string, number>;
  };
  const k = ts.SyntaxKind;
  const file = ts.createSourceFile("run.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const ranges: [number, number][] = [];
  for (const st of file.statements) {
    if (st.kind === k.ExportDeclaration && !st.moduleSpecifier) ranges.push([st.getStart(file), st.end]);
    for (const m of st.modifiers ?? []) if (m.kind === k.ExportKeyword || m.kind === k.DefaultKeyword) ranges.push([m.getStart(file), m.end]);
  }
  let out = src;
  for (const [a, b] of ranges) out = out.slice(0, a) + out.slice(a, b).replace(/[^\n]/g, " ") + out.slice(b);
  return out;
}
