/**
 * What cells reach of the running kernel through `import ... from "slimlab"`:
 * the magic table, the pager, clear_output. The kernel installs it at start
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
  /** Loads a plugin file and registers its magics; returns their names. */
  loadPlugin(file: string): string[];
}

const SLOT = Symbol.for("slimlab.kernelRuntime");

export function installRuntime(rt: KernelRuntime): void {
  (globalThis as Record<symbol, unknown>)[SLOT] = rt;
}

/** The running kernel's runtime, or undefined outside a kernel (a plain script). */
export function currentRuntime(): KernelRuntime | undefined {
  return (globalThis as Record<symbol, unknown>)[SLOT] as KernelRuntime | undefined;
}
