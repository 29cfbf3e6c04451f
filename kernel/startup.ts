/**
 * What a kernel (or a headless notebook run) does before the first cell:
 * keep tfjs' "install the node backend" banner out of notebooks, pick the
 * best TensorFlow.js backend and make training work on wasm.
 */
import "@tensorflow/tfjs-backend-wasm";
import { selectBackend } from "../plugins/backends/select";
import { registerWasmGradients } from "../plugins/backends/wasm-gradients";
import { suppressTfjsNodeBanner } from "./display/tfjs-banner";
import { MagicRegistry } from "./magics/registry";
import { registerBuiltins, StartupFacts } from "./magics/index";

export async function prepare(): Promise<StartupFacts> {
  suppressTfjsNodeBanner();
  const backend = await selectBackend();
  registerWasmGradients();
  return { backend };
}

/** The registration function CellRunner takes, for the facts of this start. */
export function builtinsFor(facts: StartupFacts): (r: MagicRegistry) => void {
  return (r) => registerBuiltins(r, facts);
}
