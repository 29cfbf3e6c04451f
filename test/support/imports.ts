/**
 * The relative import graph of TypeScript sources, read with a regex (every
 * `import ... from "./x"`, `import type`, `export ... from` and bare
 * `import "./x"`), and the cycles in it. Used by imports.test.ts.
 */
import * as fs from "fs";
import * as path from "path";

/** File (relative to the root, "/"-separated) → the files it imports. */
export type ImportGraph = Map<string, string[]>;

const SPECIFIER = /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/g;

/**
 * The relative imports of `source`, as written (e.g. "./masks", "../core/errors").
 *
 * @example
 *   importsOf('import { a } from "./a";\nimport type { B } from "../b";'); // ["./a", "../b"]
 */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) out.push(m[1]);
  return out;
}

/** Every .ts file (not .d.ts) under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/**
 * The import graph of the .ts files under `dirs` (relative to `root`);
 * an import is resolved to "<spec>.ts" or "<spec>/index.ts".
 */
export function importGraph(root: string, dirs: readonly string[]): ImportGraph {
  const rel = (p: string) => path.relative(root, p).split(path.sep).join("/");
  const g: ImportGraph = new Map();
  for (const file of dirs.flatMap((d) => tsFiles(path.join(root, d)))) {
    const deps: string[] = [];
    for (const spec of importsOf(fs.readFileSync(file, "utf8"))) {
      const base = path.resolve(path.dirname(file), spec);
      const hit = [`${base}.ts`, path.join(base, "index.ts")].find((c) => fs.existsSync(c));
      if (hit !== undefined) deps.push(rel(hit));
    }
    g.set(rel(file), deps);
  }
  return g;
}

/**
 * The cycles of a graph: its strongly connected components with more than
 * one file, or one file importing itself (Tarjan's algorithm), each sorted.
 */
export function importCycles(g: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (g.get(v) ?? []).includes(v)) cycles.push(scc.sort());
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return cycles;
}
