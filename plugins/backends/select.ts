/**
 * Choosing the TensorFlow.js backend at start, and switching later.
 *
 * Order, best first: tfjs-node-gpu (only if TensorFlow really sees a GPU),
 * tfjs-node (libtensorflow on the CPU), wasm (XNNPACK), cpu (plain
 * JavaScript). Each candidate is checked before anything of it is imported:
 * its package.json must carry its own name (an install may alias
 * "@tensorflow/tfjs-node" to @tensorflow/tfjs, as danfojs-node users do) and the
 * version of @tensorflow/tfjs it was built for, since any other version would
 * bring a second @tensorflow/tfjs-core into the process, whose backends and
 * kernels the first never sees. Module loading is a parameter, so tests can
 * stand in missing, aliased or broken packages.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import { wasmThreadsNote } from "./threads";

/** The backends slimlab can run on, best first. */
export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** One candidate's outcome: `reason` says why it was skipped, or what runs. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason: string;
}

/** What {@link selectBackend} chose, and why each better backend was skipped. */
export interface BackendReport {
  active: BackendName;
  tried: BackendAttempt[];
}

/** Loads a module or a package.json by name, throwing as `require` does. */
export type ModuleLoader = (name: string) => unknown;

export interface SelectOptions {
  /** Default: Node's require. */
  load?: ModuleLoader;
}

/** The npm package, the tfjs backend name and what its absence means, for each choice. */
const SOURCES: Record<BackendName, { pkg?: string; tfName: string; absent?: string }> = {
  "tfjs-node-gpu": { pkg: "@tensorflow/tfjs-node-gpu", tfName: "tensorflow", absent: "optional; its install downloads libtensorflow" },
  "tfjs-node": { pkg: "@tensorflow/tfjs-node", tfName: "tensorflow", absent: "optional; its install downloads libtensorflow" },
  wasm: { pkg: "@tensorflow/tfjs-backend-wasm", tfName: "wasm", absent: "a dependency of slimlab: run npm install" },
  cpu: { tfName: "cpu" },
};

type Located = { ok: true; detail: string; module?: unknown } | { ok: false; reason: string };

const defaultLoad: ModuleLoader = (name) => require(name);

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

function isNotFound(e: unknown, name: string): boolean {
  return (e as { code?: string }).code === "MODULE_NOT_FOUND" && firstLine(e).includes(`'${name}`);
}

/** The version a package was built for: "4.22.0", "^4.22.0" and "~4.22.0" all give 4.22.0. */
function pinned(spec: unknown): string | undefined {
  return typeof spec === "string" ? spec.replace(/^[\^~=]/, "") : undefined;
}

/**
 * Checks and loads the package behind `name` without switching backend. The
 * package.json is read first, so an alias or a mismatched version is never
 * imported.
 */
function locate(name: BackendName, load: ModuleLoader): Located {
  const { pkg, tfName, absent } = SOURCES[name];
  if (pkg === undefined) return { ok: true, detail: "plain JavaScript, always available" };
  // tfjs-node after tfjs-node-gpu: the GPU package's binding already
  // registered "tensorflow" and runs on the CPU just as well.
  if (name === "tfjs-node" && tf.findBackendFactory(tfName) !== null && !isInstalled(pkg, load)) {
    return { ok: true, detail: "libtensorflow on the CPU, through @tensorflow/tfjs-node-gpu's binding" };
  }
  let manifest: { name?: string; version?: string; dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  try {
    manifest = load(`${pkg}/package.json`) as typeof manifest;
  } catch (e) {
    if (isNotFound(e, pkg)) return { ok: false, reason: `not installed (${absent})` };
    return { ok: false, reason: `its package.json cannot be read: ${firstLine(e)}` };
  }
  if (manifest.name !== pkg) return { ok: false, reason: `not installed (the name is an alias of ${manifest.name})` };
  const wanted = name === "wasm" ? pinned(manifest.peerDependencies?.["@tensorflow/tfjs-core"]) : pinned(manifest.dependencies?.["@tensorflow/tfjs"]);
  const have = name === "wasm" ? tf.version_core : tf.version.tfjs;
  const against = name === "wasm" ? "@tensorflow/tfjs-core" : "@tensorflow/tfjs";
  if (wanted !== undefined && wanted !== have) {
    return { ok: false, reason: `${pkg} ${manifest.version} needs ${against} ${wanted} but this process has ${have}; install ${pkg}@${have}` };
  }
  let module: unknown;
  try {
    module = load(pkg);
  } catch (e) {
    return { ok: false, reason: `installed but failed to load: ${firstLine(e)}` };
  }
  if (tf.findBackendFactory(tfName) === null) {
    return { ok: false, reason: `loaded, but it registered its backend with another copy of @tensorflow/tfjs-core` };
  }
  return { ok: true, detail: `${pkg} ${manifest.version}`, module };
}

function isInstalled(pkg: string, load: ModuleLoader): boolean {
  try {
    return (load(`${pkg}/package.json`) as { name?: string }).name === pkg;
  } catch {
    return false;
  }
}

/** A matmul whose answer is known: proves the backend computes, not just loads. */
function computes(): boolean {
  return tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0] === 11);
}

/**
 * Switches tfjs to the located backend and checks that it computes (and, for
 * tfjs-node-gpu, that TensorFlow sees a GPU). On failure the previous backend
 * is restored.
 */
async function activate(name: BackendName, located: Located & { ok: true }): Promise<BackendAttempt> {
  // null before any backend was chosen; then fall back to cpu, not to the failed one.
  const previous: string | null = tf.getBackend();
  const fail = async (reason: string): Promise<BackendAttempt> => {
    if (previous !== tf.getBackend()) await tf.setBackend(previous ?? "cpu");
    return { name, ok: false, reason };
  };
  const tfName = SOURCES[name].tfName;
  let started: boolean;
  try {
    started = await tf.setBackend(tfName);
  } catch (e) {
    return fail(`${located.detail} loaded, but backend "${tfName}" failed to start: ${firstLine(e)}`);
  }
  if (!started) return fail(`${located.detail} loaded, but backend "${tfName}" failed to start`);
  if (!computes()) return fail(`${located.detail} started, but a test matmul gave a wrong answer`);
  if (name === "tfjs-node-gpu" && (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice !== true) {
    return fail(`${located.detail} loaded, but TensorFlow found no GPU device (is CUDA/cuDNN installed?)`);
  }
  return { name, ok: true, reason: `${located.detail}; ${await describe(name, located.module)}` };
}

async function describe(name: BackendName, module: unknown): Promise<string> {
  if (name === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = (module as { getThreadsCount?: () => number } | undefined)?.getThreadsCount?.() ?? 1;
    const note = wasmThreadsNote();
    return `XNNPACK, SIMD ${simd ? "on" : "off"}, ${threads} thread${threads === 1 ? "" : "s"}${note ? ` (${note})` : ""}`;
  }
  if (name === "cpu") return "the slowest (bench/training.ts measures by how much)";
  return name === "tfjs-node-gpu" ? "running on a GPU" : "native TensorFlow kernels";
}

/**
 * Picks the best backend that works here and makes it active: tfjs-node-gpu
 * (importable and a GPU actually runs an op) → tfjs-node → wasm → cpu.
 * Call once at start; afterwards call registerWasmGradients() so that
 * training works on wasm.
 *
 * @param options `load` replaces Node's require (for tests)
 * @returns the active backend and, for it and every better one, ok and why
 * @throws SlimlabError E_BACKEND if not even the cpu backend computes
 * @example
 * const report = await selectBackend();
 * // {active: "wasm", tried: [{name: "tfjs-node-gpu", ok: false, reason: "not installed (...)"}, ...]}
 */
export async function selectBackend(options: SelectOptions = {}): Promise<BackendReport> {
  const load = options.load ?? defaultLoad;
  const tried: BackendAttempt[] = [];
  for (const name of BACKEND_NAMES) {
    const located = locate(name, load);
    const attempt = located.ok ? await activate(name, located) : { name, ok: false, reason: located.reason };
    tried.push(attempt);
    if (attempt.ok) return { active: name, tried };
  }
  const why = tried.map((t) => `${t.name}: ${t.reason}`).join("; ");
  throw new SlimlabError("E_BACKEND", `no TensorFlow.js backend works here (${why}); reinstall @tensorflow/tfjs.`);
}

/**
 * Makes `name` the active backend. Tensors that already exist are not
 * copied: tfjs-core moves a tensor to the new backend the first time an op
 * there uses it (engine.moveData, one copy per tensor), and reading values
 * with data()/dataSync() reads them where they are without moving them.
 *
 * @param name one of {@link BACKEND_NAMES}
 * @param options `load` replaces Node's require (for tests)
 * @returns a one-line note on the switch and on the existing tensors
 * @throws SlimlabError E_BACKEND for an unknown name (listing the allowed
 *   ones) or one that is not available here (with why, and what is)
 * @example
 * await switchBackend("cpu"); // 'Switched to cpu (tfjs backend "cpu", was "wasm"). Existing tensors (12) stay where ...'

 */
export async function switchBackend(name: string, options: SelectOptions = {}): Promise<string> {
  const load = options.load ?? defaultLoad;
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new SlimlabError("E_BACKEND", `unknown backend ${show(name)}; allowed: ${BACKEND_NAMES.join(", ")}${suggestion(name, BACKEND_NAMES)}.`);
  }
  const wanted = name as BackendName;
  const previous = tf.getBackend();
  const located = locate(wanted, load);
  const attempt = located.ok ? await activate(wanted, located) : { name: wanted, ok: false, reason: located.reason };
  if (!attempt.ok) {
    const available = BACKEND_NAMES.filter((n) => n !== wanted && locate(n, load).ok);
    throw new SlimlabError(
      "E_BACKEND",
      `backend ${show(name)} is not available here: ${attempt.reason}. Available: ${available.join(", ")}.`,
    );
  }
  const now = tf.getBackend();
  if (previous === now) return `Already on ${name}; nothing moves.`;
  const count = tf.memory().numTensors;
  return (
    `Switched to ${name} (tfjs backend "${now}", was "${previous}"). Existing tensors (${count}) stay where they are; ` +
    `tfjs copies each to "${now}" the first time an op there uses it, and reading values does not move them.`
  );
}
