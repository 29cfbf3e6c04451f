/**
 * The notebook's namespace: `%who`, `%whos` and `%who_ls` list its
 * variables (tensors with dtype and shape, models with their parameter
 * count), `%run file.ts` adds a file's declarations to it (kernel/run-file.ts).
 */
import { inspect } from "util";
import { SlimlabError } from "../../plugins/core/errors";
import { defineMagic } from "../../plugins/core/magic";
import { currentRuntime } from "../runtime";
import { completePath } from "./builtins";

function namespace(magic: string): Record<string, unknown> {
  const rt = currentRuntime();
  if (!rt) throw new SlimlabError("E_PLUGIN", `%${magic} needs a running slimlab kernel`);
  return rt.namespace();
}

interface TensorLike {
  shape: number[];
  dtype: string;
  isDisposed: boolean;
}
interface ModelLike {
  countParams(): number;
  layers: unknown[];
  inputs?: { shape: (number | null)[] }[];
}

function isTensor(v: unknown): v is TensorLike {
  return typeof v === "object" && v !== null && "dataSync" in v && "shape" in v && "dtype" in v && "rankType" in v;
}

function isModel(v: unknown): v is ModelLike {
  return typeof v === "object" && v !== null && typeof (v as ModelLike).countParams === "function" && Array.isArray((v as ModelLike).layers);
}

/** A module's exports, as `import * as tf from ...` gives them. */
function isModule(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as { __esModule?: unknown }).__esModule === true;
}

function isClass(v: unknown): boolean {
  return typeof v === "function" && /^class\b/.test(Function.prototype.toString.call(v));
}

/** Names of `v`'s type, most specific first: "Sequential", "LayersModel", ...; "number", "function", "class". */
export function typeNames(v: unknown): string[] {
  if (v === null) return ["null"];
  if (isClass(v)) return ["class"];
  if (typeof v !== "object") return [typeof v];
  if (isModule(v)) return ["module"];
  const names: string[] = [];
  for (let p = Object.getPrototypeOf(v); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const n = (p.constructor as { name?: string } | undefined)?.name;
    if (n && !names.includes(n)) names.push(n);
  }
  return names.length ? names : ["Object"];
}

const short = (s: string, n = 70) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** The Data/Info column of %whos: what matters about `v` in one line. */
export function describeValue(v: unknown): string {
  if (isTensor(v)) return v.isDisposed ? `disposed (was ${v.dtype} [${v.shape.join(",")}])` : `${v.dtype} [${v.shape.join(",")}]`;
  if (isModel(v)) {
    let params = "? params (not built)";
    try {
      params = `${v.countParams().toLocaleString("en-US")} params`;
    } catch {
      // an unbuilt model has no weights to count
    }
    const input = v.inputs?.[0]?.shape;
    return `${params}, ${v.layers.length} layer${v.layers.length === 1 ? "" : "s"}${input ? `, input [${input.map((d) => d ?? "null").join(",")}]` : ""}`;
  }
  if (isClass(v)) return `class ${(v as { name: string }).name}`;
  if (isModule(v)) return `${Object.keys(v as object).filter((k) => k !== "__esModule").length} exports`;
  if (typeof v === "function") {
    const head = /^[^{=]*/.exec(Function.prototype.toString.call(v))?.[0].trim() ?? "";
    const params = /\(([^)]*)\)/.exec(head)?.[1] ?? "";
    return `${v.name || "(anonymous)"}(${params.replace(/\s+/g, " ")})`;
  }
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const n = (v as { length: number }).length;
    return short(`length ${n}: ${inspect(v, { depth: 0, breakLength: Infinity, maxArrayLength: 10 })}`);
  }
  if (v instanceof Map || v instanceof Set) return `size ${v.size}`;
  return short(inspect(v, { depth: 0, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 60 }));
}

/** The notebook's variables, sorted, of one of `types` when given (a type name or a base class name). */
function variables(magic: string, types: unknown[]): [string, unknown][] {
  const wanted = types.map(String);
  return Object.entries(namespace(magic))
    .filter(([, v]) => wanted.length === 0 || typeNames(v).some((t) => wanted.includes(t)))
    .sort(([a], [b]) => a.localeCompare(b));
}

const TYPES = { name: "types", help: "only variables of these types (Tensor, LayersModel, number, function, ...)", optional: true, variadic: true, text: true } as const;

export const whoMagic = defineMagic({
  name: "who",
  summary: "Prints the names of the notebook's variables (of the given types only, if any).",
  positional: [TYPES],
  flags: {},
  examples: ["%who", "%who Tensor LayersModel"],
  run(types): void {
    const names = variables("who", types).map(([n]) => n);
    process.stdout.write(names.length ? `${names.join("\t")}\n` : "Interactive namespace is empty.\n");
  },
});

export const whoLsMagic = defineMagic({
  name: "who_ls",
  summary: "Gives the names of the notebook's variables (of the given types only, if any), sorted.",
  positional: [TYPES],
  flags: {},
  run(types): string[] {
    return variables("who_ls", types).map(([n]) => n);
  },
});

export const whosMagic = defineMagic({
  name: "whos",
  summary: "Prints a table of the notebook's variables: name, type, and data/info (dtype and shape of tensors, parameters and layers of models).",
  positional: [TYPES],
  flags: {},
  examples: ["%whos", "%whos Tensor"],
  run(types): void {
    const rows = variables("whos", types).map(([n, v]) => [n, typeNames(v)[0], describeValue(v)]);
    if (rows.length === 0) {
      process.stdout.write("Interactive namespace is empty.\n");
      return;
    }
    const all = [["Variable", "Type", "Data/Info"], ...rows];
    const w = [0, 1].map((i) => Math.max(...all.map((r) => r[i].length)) + 3);
    const line = (r: string[]) => `${r[0].padEnd(w[0])}${r[1].padEnd(w[1])}${r[2]}`.trimEnd();
    const width = Math.max(...all.map((r) => line(r).length));
    process.stdout.write([line(all[0]), "-".repeat(width), ...rows.map(line)].join("\n") + "\n");
  },
});

export const runFileMagic = defineMagic({
  name: "run",
  summary: "Runs a TypeScript or JavaScript file in the notebook's namespace: its top-level declarations become notebook variables.",
  description:
    "%run stands alone on a line at the top level of a cell: the file runs when that line is reached, and the lines after it are type-checked against its declarations. A .js file is checked as tslab's JavaScript kernel checks it. Imports in the file are resolved from the notebook's folder; errors name the file's lines.",
  positional: [{ name: "file", help: "a .ts or .js file, relative to the working directory", text: true, complete: (p) => completePath(p, (n) => /\.[mc]?[tj]s$/.test(n)) }],
  flags: {},
  examples: ["%run setup.ts", "%run ../shared/data.js"],
  run([file]): void {
    const rt = currentRuntime();
    if (!rt) throw new SlimlabError("E_PLUGIN", "%run needs a running slimlab kernel");
    rt.runFile(String(file));
  },
});
