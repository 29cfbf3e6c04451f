/**
 * The built-in magics, registered by one explicit call at kernel start
 * (house rule 3). `BuiltinMagics` is also the type map that gives a magic
 * line's result its TypeScript type (see `runMagic` in index.ts).
 */
import { backendMagic } from "../../plugins/backends/magic";
import * as tf from "@tensorflow/tfjs";
import { BackendName, BackendReport } from "../../plugins/backends/select";
import { MagicSpec } from "../../plugins/core/magic";
import { quantizeMagic } from "../../plugins/quantize/magics";
import { pruneMagic } from "../../plugins/prune/magics";
import { distillMagic } from "../../plugins/distill/magics";
import { exportMagic } from "../../plugins/format/magic";
import { backendsMagic, benchMagic, compareMagic, evaluateMagic, optimizeMagic, sizeMagic, summaryMagic } from "../../plugins/measure/magics";
import { analyzeMagic } from "../../plugins/analyze/magics";
import { compressGraphMagic, loadModelMagic } from "../../plugins/io/magics";
import { loadPluginMagic, lsmagic, time, timeit } from "./builtins";
import { runFileMagic, whoLsMagic, whoMagic, whosMagic } from "./namespace";
import { bashMagic, cdMagic, envMagic, pwdMagic, shMagic, sxMagic, systemMagic, writefileMagic } from "./shell";
import { MagicRegistry } from "./registry";

/** What the built-ins need to know of the kernel's start. */
export interface StartupFacts {
  /** How the backend was chosen (plugins/backends/select.ts). */
  backend: BackendReport;
}

export interface BuiltinMagics {
  lsmagic: typeof lsmagic;
  time: typeof time;
  timeit: typeof timeit;
  load_plugin: typeof loadPluginMagic;
  system: typeof systemMagic;
  sx: typeof sxMagic;
  bash: typeof bashMagic;
  sh: typeof shMagic;
  cd: typeof cdMagic;
  pwd: typeof pwdMagic;
  env: typeof envMagic;
  writefile: typeof writefileMagic;
  who: typeof whoMagic;
  who_ls: typeof whoLsMagic;
  whos: typeof whosMagic;
  run: typeof runFileMagic;
  backend: ReturnType<typeof backendMagic>;
  summary: typeof summaryMagic;
  size: typeof sizeMagic;
  bench: typeof benchMagic;
  evaluate: typeof evaluateMagic;
  compare: typeof compareMagic;
  backends: typeof backendsMagic;
  optimize: typeof optimizeMagic;
  quantize: typeof quantizeMagic;
  prune: typeof pruneMagic;
  distill: typeof distillMagic;
  export: typeof exportMagic;
  analyze: typeof analyzeMagic;
  load_model: typeof loadModelMagic;
  compress_graph: typeof compressGraphMagic;
}

export function builtinMagics(facts: StartupFacts): BuiltinMagics {
  return {
    lsmagic,
    time,
    timeit,
    load_plugin: loadPluginMagic,
    system: systemMagic,
    sx: sxMagic,
    bash: bashMagic,
    sh: shMagic,
    cd: cdMagic,
    pwd: pwdMagic,
    env: envMagic,
    writefile: writefileMagic,
    who: whoMagic,
    who_ls: whoLsMagic,
    whos: whosMagic,
    run: runFileMagic,
    backend: backendMagic(facts.backend),
    summary: summaryMagic,
    size: sizeMagic,
    bench: benchMagic,
    evaluate: evaluateMagic,
    compare: compareMagic,
    backends: backendsMagic,
    optimize: optimizeMagic,
    quantize: quantizeMagic,
    prune: pruneMagic,
    distill: distillMagic,
    export: exportMagic,
    analyze: analyzeMagic,
    load_model: loadModelMagic,
    compress_graph: compressGraphMagic,
  };
}

/**
 * Registers every built-in magic in `registry`. Without `facts` (tests that
 * skip backend selection) %backend reports only the backend in force.
 */
export function registerBuiltins(registry: MagicRegistry, facts?: StartupFacts): void {
  const known: StartupFacts = facts ?? { backend: { active: tf.getBackend() as BackendName, tried: [] } };
  for (const spec of Object.values(builtinMagics(known))) registry.register(spec as unknown as MagicSpec, "builtin");
}
