/**
 * `%load_plugin <path>`: the plugin contract. A plugin is a CommonJS module
 * (.js, or .ts transpiled on load) exporting `magics`: an array of magic
 * declarations made with `defineMagic` (see README, "Writing a plugin").
 */
import * as fs from "fs";
import Module from "module";
import * as path from "path";
import { SlimlabError } from "../../plugins/core/errors";
import { MagicSpec } from "../../plugins/core/magic";
import { MagicRegistry } from "./registry";
import { typescript } from "../tslab-adapter";

function loadModule(file: string, fresh: boolean): Record<string, unknown> {
  if (!file.endsWith(".ts")) {
    if (fresh) delete require.cache[require.resolve(file)];
    return require(file);
  }
  const ts = typescript() as unknown as { transpileModule(src: string, o: object): { outputText: string } };
  const js = ts.transpileModule(fs.readFileSync(file, "utf8"), { compilerOptions: { module: 1 /* CommonJS */, target: 7 /* ES2020 */, esModuleInterop: true } }).outputText;
  const mod = new Module(file);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
  (mod as unknown as { _compile(code: string, f: string): void })._compile(js, file);
  return mod.exports;
}

/**
 * Loads `file` and registers its magics. A file loaded before is left as it
 * is (`already`), unless `reload`: then it is read afresh and its magics
 * replace the ones it registered before (a magic it no longer exports is
 * gone). Throws E_FILE / E_PLUGIN; a reload that fails keeps the old magics.
 */
export function loadPlugin(registry: MagicRegistry, file: string, options: { reload?: boolean } = {}): { names: string[]; already: boolean } {
  if (!fs.existsSync(file)) throw new SlimlabError("E_FILE", `%load_plugin: no file ${JSON.stringify(file)}; give the path of a .js or .ts module exporting \`magics\``);
  const before = registry.namesFrom(file);
  if (before.length > 0 && !options.reload) return { names: before, already: true };
  let mod: Record<string, unknown>;
  try {
    mod = loadModule(file, before.length > 0);
  } catch (e) {
    throw new SlimlabError("E_PLUGIN", `%load_plugin: ${path.basename(file)} failed to load: ${(e as Error).message}`);
  }
  const magics = (mod.magics ?? (mod.default as Record<string, unknown> | undefined)?.magics) as MagicSpec[] | undefined;
  if (!Array.isArray(magics) || magics.length === 0) {
    throw new SlimlabError("E_PLUGIN", `%load_plugin: ${path.basename(file)} exports no \`magics\` array; export const magics = [defineMagic({...})]`);
  }
  const old = registry.entries().filter((r) => r.source === file);
  registry.removeSource(file);
  try {
    for (const spec of magics) registry.register(spec, file);
  } catch (e) {
    registry.removeSource(file);
    for (const r of old) registry.register(r.spec, file);
    throw e;
  }
  return { names: magics.map((m) => m.name), already: false };
}
