/**
 * What cells reach of the running kernel through `import ... from "slimlab"`:
 * the magic table, the pager, clear_output, the user's input, the notebook's
 * namespace and working directory. The kernel installs it at start
 * into one slot on globalThis (a cell's require of "slimlab" and the kernel
 * are the same module instance, but a slot keyed by a registered symbol
 * holds even if they were not).
 */
import { MagicRegistry } from "./magics/registry";

export interface KernelRuntime {
  registry: MagicRegistry;
  /** Puts text in the notebook's pager (the execute_reply "page" payload), as `%name?` does in IPython. */
  page(text: string): void;
  /** Sends clear_output for the running cell's output area. */
  clearOutput(wait: boolean): void;
  /** Loads a plugin file (relative to the working directory) and registers its magics; see kernel/magics/plugins.ts. */
  loadPlugin(file: string, reload: boolean): PluginLoad;
  /** A line from the user over the stdin channel; rejects when the frontend takes no input. */
  input(prompt: string, password: boolean): Promise<string>;
  /** The notebook's variables by name (without the kernel's own: $_, $Out, prompt, ...). */
  namespace(): Record<string, unknown>;
  /** The notebook's working directory (where `%cd` went; relative paths of magics start here). */
  cwd(): string;
  /** Changes the working directory (of the process too); `dir` is relative to the current one. */
  chdir(dir: string): string;
  /** Runs a file in the notebook's namespace once the `%run` line that asked returns (kernel/run-file.ts). */
  runFile(file: string): void;
}

/** What %load_plugin did. */
export interface PluginLoad {
  names: string[];
  /** It was loaded before and not reloaded. */
  already: boolean;
}

const SLOT = Symbol.for("slimlab.kernelRuntime");

export function installRuntime(rt: KernelRuntime): void {
  (globalThis as Record<symbol, unknown>)[SLOT] = rt;
}

/** The running kernel's runtime, or undefined outside a kernel (a plain script). */
export function currentRuntime(): KernelRuntime | undefined {
  return (globalThis as Record<symbol, unknown>)[SLOT] as KernelRuntime | undefined;
}
