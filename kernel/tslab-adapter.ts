/**
 * Every deep import of tslab's internals lives here (house rule 1), so that a
 * tslab upgrade breaks one file and one test (test/kernel/tslab-adapter.test.ts),
 * not the kernel.
 *
 * What slimlab takes from tslab: its TypeScript converter (type-checks a cell
 * against the declarations of earlier cells and emits CommonJS) and its
 * is-complete check. What it does not take: tslab's Jupyter server and
 * executor, which lack parts of the protocol, `startKernel`, which hands
 * control to other tslab copies, and the runtime of its `display` API, which
 * writes through that server (cells that import "tslab" get kernel/tslab-shim.ts,
 * checked against tslab's own types).
 */
import * as fs from "fs";
import * as path from "path";

/* eslint-disable @typescript-eslint/no-var-requires */
const ts = require("@tslab/typescript-for-tslab");
const converterModule = loadConverterWithSourceMaps();

export const TSLAB_VERSION: string = require("tslab/package.json").version;
export const TYPESCRIPT_VERSION: string = ts.version;

export interface DiagnosticPos {
  offset: number;
  line: number;
  character: number;
}
export interface Diagnostic {
  start: DiagnosticPos;
  end: DiagnosticPos;
  messageText: string;
  category: number;
  code: number;
  fileName?: string;
}
export interface ConvertResult {
  output?: string;
  declOutput?: string;
  diagnostics: Diagnostic[];
  lastExpressionVar?: string;
  hasToplevelAwait?: boolean;
  sideOutputs?: { path: string; data: string }[];
}
export interface QuickInfo {
  displayParts?: { text: string }[];
  documentation?: { text: string }[];
  tags?: { name: string; text?: { text: string }[] }[];
}
export interface CompletionInfo {
  start: number;
  end: number;
  candidates: string[];
}
/** The converter of tslab/dist/converter, typed as slimlab uses it. */
export interface Converter {
  convert(prevDecl: string, src: string): ConvertResult;
  inspect(prevDecl: string, src: string, position: number): QuickInfo | undefined;
  complete(prevDecl: string, src: string, position: number): CompletionInfo;
  close(): void;
}

/**
 * Where `import "x"` in a cell finds x. Packages in `forced` always come from
 * slimlab's own installation (one tfjs-core per process, whatever the
 * notebook's folder holds); other packages come from the notebook's folder
 * and, failing that, from slimlab's installation.
 */
export interface ModuleMap {
  /** The folder the notebook runs in (the converter's cwd). */
  cwd: string;
  /** Returns the folder of package `name` in slimlab's installation, if it has it. */
  ownPackageDir(name: string): string | undefined;
  forced(name: string): boolean;
}

/**
 * Splits "<cwd>/node_modules/@scope/pkg/rest" into ["@scope/pkg", "rest"];
 * a bare scope folder ("<cwd>/node_modules/@types") gives ["@types", ""].
 */
function packageOf(p: string, nodeModules: string): [string, string] | undefined {
  if (!p.startsWith(nodeModules + "/")) return undefined;
  const parts = p.slice(nodeModules.length + 1).split("/");
  const n = parts[0].startsWith("@") ? Math.min(2, parts.length) : 1;
  return [parts.slice(0, n).join("/"), parts.slice(n).join("/")];
}

/**
 * tslab resolves modules the Node 10 way, which ignores package.json
 * "exports"; a package whose declarations are named only there (danfojs:
 * exports["."].types) would have no types in a cell. This hands the compiler
 * a package.json whose "types" names that file. Anything else passes as is.
 */
export function withExportsTypes(text: string): string {
  let pj: { types?: unknown; typings?: unknown; exports?: unknown };
  try {
    pj = JSON.parse(text);
  } catch {
    return text;
  }
  const dot = (pj.exports as Record<string, unknown> | undefined)?.["."];
  const types = typeof dot === "object" && dot !== null ? (dot as { types?: unknown }).types : undefined;
  if (pj.types !== undefined || pj.typings !== undefined || typeof types !== "string") return text;
  return JSON.stringify({ ...pj, types });
}

/**
 * Redirects the TypeScript compiler's file look-ups under <cwd>/node_modules
 * to slimlab's installation as `map` says. tslab's converter reads files
 * through `ts.sys`, so patching it is how types follow the runtime.
 */
function redirectTypeLookups(map: ModuleMap): void {
  const sys = ts.sys;
  const nodeModules = path.join(map.cwd, "node_modules");
  const forward = (p: string): string => {
    const hit = packageOf(p, nodeModules);
    if (!hit) return p;
    const [name, rest] = hit;
    if (!map.forced(name) && fs.existsSync(path.join(nodeModules, name))) return p;
    const own = map.ownPackageDir(name);
    return own ? path.join(own, rest) : p;
  };
  const orig = {
    readFile: sys.readFile,
    fileExists: sys.fileExists,
    directoryExists: sys.directoryExists,
    readDirectory: sys.readDirectory,
    getDirectories: sys.getDirectories,
    realpath: sys.realpath,
  };
  sys.readFile = (p: string, enc?: string) => {
    const text = orig.readFile.call(sys, forward(p), enc);
    return text !== undefined && /\/node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(p) ? withExportsTypes(text) : text;
  };
  sys.fileExists = (p: string) => orig.fileExists.call(sys, forward(p));
  // <cwd>/node_modules need not exist: the notebook's folder may have none.
  sys.directoryExists = (p: string) => p === nodeModules || orig.directoryExists.call(sys, forward(p));
  sys.readDirectory = (p: string, ...rest: unknown[]) => orig.readDirectory.call(sys, forward(p), ...rest);
  sys.getDirectories = (p: string) => orig.getDirectories.call(sys, forward(p));
  // Keep the virtual path: resolving it to the real one would make TypeScript
  // load the same declarations twice under two names.
  if (orig.realpath) sys.realpath = (p: string) => (forward(p) !== p ? p : orig.realpath.call(sys, p));
}

/**
 * Loads tslab's converter with a TypeScript whose two conversion steps (the
 * watch program's emit, then `esModuleToCommonJSModule`'s transpileModule of
 * "custom.js") append inline source maps, so runtime errors can name the
 * user's line (kernel/sourcemap.ts). TypeScript's exports are read-only
 * getters, so the converter is handed a copy with those two functions
 * wrapped, through the require cache, and the cache is restored after.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function loadConverterWithSourceMaps(): any {
  const tsFile = require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(require.resolve("tslab/package.json"))] });
  const cached = require.cache[tsFile];
  if (!cached) throw new Error("slimlab: TypeScript for tslab is not loaded");
  const copy: Record<string, unknown> = {};
  const wrapped = new Set(["createWatchCompilerHost", "transpileModule"]);
  for (const k of Object.keys(ts)) if (!wrapped.has(k)) Object.defineProperty(copy, k, { enumerable: true, get: () => ts[k] });
  const createHost = ts.createWatchCompilerHost;
  const transpile = ts.transpileModule;
  Object.defineProperty(copy, "createWatchCompilerHost", {
    enumerable: true,
    value: (files: string[], options: Record<string, unknown>, ...rest: unknown[]) => createHost.call(ts, files, { ...options, inlineSourceMap: true }, ...rest),
  });
  Object.defineProperty(copy, "transpileModule", {
    enumerable: true,
    value: (input: string, opts: { fileName?: string; compilerOptions?: Record<string, unknown> }) =>
      transpile.call(ts, input, opts.fileName === "custom.js" ? { ...opts, compilerOptions: { ...opts.compilerOptions, inlineSourceMap: true } } : opts),
  });
  const original = cached.exports;
  cached.exports = copy;
  try {
    return require("tslab/dist/converter");
  } finally {
    cached.exports = original;
  }
}

/**
 * Creates tslab's TypeScript converter for cells run in `map.cwd`.
 * Call once per process: it patches the compiler's file system view.
 */
export function createConverter(map: ModuleMap): Converter {
  redirectTypeLookups(map);
  return convertIn(map.cwd, false);
}

/**
 * tslab's JavaScript converter (its "jslab" mode: JavaScript checked as
 * tslab checks it, `this.x = ...` in constructors allowed), for `%run
 * file.js`. Call after createConverter, which redirected the compiler's look-ups.
 */
export function createJsConverter(map: ModuleMap): Converter {
  return convertIn(map.cwd, true);
}

function convertIn(cwd: string, isJS: boolean): Converter {
  const prev = process.cwd();
  if (prev !== cwd) process.chdir(cwd);
  try {
    return converterModule.createConverter({ isJS, isBrowser: false }) as Converter;
  } finally {
    if (prev !== cwd) process.chdir(prev);
  }
}

/** TypeScript's syntax errors in `src` (no type check): the messages, empty when it parses. */
export function syntaxErrors(src: string): string[] {
  const file = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const diags = (file as { parseDiagnostics?: { messageText: unknown }[] }).parseDiagnostics ?? [];
  return diags.map((d) => (typeof d.messageText === "string" ? d.messageText : String((d.messageText as { messageText?: string }).messageText)));
}

/** tslab's is-complete check (unclosed brackets, strings, template literals). */
export function isCompleteCode(src: string): { completed: boolean; indent?: string } {
  return converterModule.isCompleteCode(src);
}

/**
 * Works around a tslab converter bug: a shorthand property naming a
 * variable of an earlier cell (`{ test }`) is emitted as is, and the
 * variable is not in scope at run time (ReferenceError), while `{ test: test }`
 * works. Rewrites every shorthand property to the long form, which means the
 * same in JavaScript; only columns to the right of one move.
 */
export function expandShorthandProperties(src: string): string {
  if (!src.includes("{")) return src;
  const file = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.ES2020, true);
  const at: { pos: number; name: string }[] = [];
  const visit = (node: { kind: number; forEachChild(cb: (n: never) => void): void }): void => {
    if (ts.isShorthandPropertyAssignment(node) && !(node as { objectAssignmentInitializer?: unknown }).objectAssignmentInitializer) {
      const n = node as unknown as { name: { text: string; getStart(): number } };
      at.push({ pos: n.name.getStart(), name: n.name.text });
    }
    node.forEachChild(visit as never);
  };
  visit(file);
  let out = src;
  for (const { pos, name } of at.sort((a, b) => b.pos - a.pos)) out = `${out.slice(0, pos)}${name}: ${out.slice(pos)}`;
  return out;
}

/** The TypeScript scanner, for the magic parser's lexing of cells. */
export function typescript(): {
  createScanner: (...args: unknown[]) => unknown;
  SyntaxKind: Record<string, number>;
  ScriptTarget: Record<string, number>;
} {
  return ts;
}
