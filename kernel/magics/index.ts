/**
 * The built-in magics, registered by one explicit call at kernel start
 * (house rule 3). `builtinMagics` is also the type map that gives a magic
 * line's result its TypeScript type (see `runMagic` in index.ts).
 */
import { MagicSpec } from "../../plugins/core/magic";
import { loadPluginMagic, lsmagic, time, timeit } from "./builtins";
import { MagicRegistry } from "./registry";

export const builtinMagics = {
  lsmagic,
  time,
  timeit,
  load_plugin: loadPluginMagic,
};

/** Registers every built-in magic in `registry`. */
export function registerBuiltins(registry: MagicRegistry): void {
  for (const spec of Object.values(builtinMagics)) registry.register(spec as unknown as MagicSpec, "builtin");
}
