/**
 * Where a cell's `import` finds its module, at type-check time (tslab-adapter
 * redirects the compiler) and at run time (the `require` below) by the same
 * rules: slimlab, tslab, tfjs and danfo always come from slimlab's own
 * installation, so the whole process shares one @tensorflow/tfjs-core even
 * when the notebook's folder has a copy of its own; anything else comes from
 * the notebook's folder first.
 */
import * as fs from "fs";
import Module from "module";
import * as path from "path";
import { ModuleMap } from "./tslab-adapter";
import * as tslabShim from "./tslab-shim";

/** The folder of slimlab's package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, "utf8")).name === "slimlab") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`slimlab: cannot find slimlab's package.json above ${__dirname}`);
    dir = up;
  }
}

/** "@scope/pkg/sub" → "@scope/pkg"; "pkg/sub" → "pkg". */
export function packageName(id: string): string {
  const parts = id.split("/");
  return id.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Packages a cell always gets from slimlab's installation. */
export function isForced(name: string): boolean {
  return name === "slimlab" || name === "tslab" || name === "danfojs" || name.startsWith("@tensorflow/");
}

export interface ModuleResolver {
  map: ModuleMap;
  require(id: string, fromDir: string): unknown;
  /** The file `require(id)` would load, by the same rules (a cell's `require.resolve`). */
  resolve(id: string, fromDir: string): string;
}

export function createModuleResolver(cwd: string, root = packageRoot()): ModuleResolver {
  const ownRequire = Module.createRequire(path.join(root, "package.json"));
  const ownPackageDir = (name: string): string | undefined => {
    if (name === "slimlab") return root;
    for (let dir = root; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, "node_modules", name);
      if (fs.existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) return undefined;
    }
  };
  return {
    map: { cwd, ownPackageDir, forced: isForced },
    require(id, fromDir) {
      // tslab's API, drawn through slimlab's display path (tslab-shim.ts); its types stay tslab's.
      if (id === "tslab") return tslabShim;
      return ownRequire(this.resolve(id, fromDir));
    },
    resolve(id, fromDir) {
      const name = packageName(id);
      if (name === "tslab" && id === "tslab") return ownRequire.resolve("tslab");
      if (name === "slimlab") return ownRequire.resolve(path.join(root, id.slice("slimlab".length)));
      if (isForced(name) || Module.isBuiltin(id)) return ownRequire.resolve(id);
      try {
        return Module.createRequire(path.join(fromDir, "__cell__.js")).resolve(id);
      } catch (e) {
        if ((e as { code?: string }).code !== "MODULE_NOT_FOUND" || id.startsWith(".") || path.isAbsolute(id)) throw e;
        return ownRequire.resolve(id);
      }
    },
  };
}
