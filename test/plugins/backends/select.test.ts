import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { isSlimlabError } from "../../../plugins/core/errors";
import { ModuleLoader, selectBackend, switchBackend } from "../../../plugins/backends/select";
import { suiteBackend } from "./compare";

const GPU = "@tensorflow/tfjs-node-gpu";
const NODE = "@tensorflow/tfjs-node";
const WASM = "@tensorflow/tfjs-backend-wasm";

interface FakePackage {
  manifest: object;
  /** What importing the package does (register a backend, throw, nothing). */
  load: () => unknown;
}

function notFound(name: string): Error {
  return Object.assign(new Error(`Cannot find module '${name}'\nRequire stack: ...`), { code: "MODULE_NOT_FOUND" });
}

/**
 * A loader that knows only `fakes`; every other package is missing, except
 * the real wasm package when `realWasm` is set. `imported` records what was
 * actually imported (not just its package.json read).
 */
function loader(fakes: Record<string, FakePackage>, realWasm = true): { load: ModuleLoader; imported: string[] } {
  const imported: string[] = [];
  const load: ModuleLoader = (name) => {
    const isManifest = name.endsWith("/package.json");
    const pkg = isManifest ? name.slice(0, -"/package.json".length) : name;
    if (pkg === WASM && realWasm) return require(name);
    const fake = fakes[pkg];
    if (fake === undefined) throw notFound(name);
    if (isManifest) return fake.manifest;
    imported.push(pkg);
    return fake.load();
  };
  return { load, imported };
}

const manifest = (name: string, tfjs = tf.version.tfjs) => ({ name, version: tfjs, dependencies: { "@tensorflow/tfjs": tfjs } });

/** What importing tfjs-node(-gpu) does: register a "tensorflow" backend (here the cpu one in disguise). */
function registerFakeTensorflow(gpu: boolean): void {
  tf.registerBackend("tensorflow", () => Object.assign(new tf.MathBackendCPU(), { isUsingGpuDevice: gpu }));
  for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: "tensorflow" });
}

function removeFakeTensorflow(): void {
  if (tf.findBackendFactory("tensorflow") === null) return;
  for (const k of tf.getKernelsForBackend("tensorflow")) tf.unregisterKernel(k.kernelName, "tensorflow");
  tf.removeBackend("tensorflow");
}

async function expectBackendError(run: () => Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(run, (e: unknown) => {
    assert.ok(isSlimlabError(e), `a SlimlabError, got ${e}`);
    assert.equal(e.code, "E_BACKEND");
    assert.equal(e.message, message);
    return true;
  });
}

describe("backends/select", function () {
  this.timeout(30000);
  suiteBackend("cpu");
  afterEach(async () => {
    removeFakeTensorflow();
    await tf.setBackend("cpu");
  });

  it("in this install (offline: libtensorflow's download fails, so npm drops both optional packages): wasm is chosen", async () => {
    const report = await selectBackend();
    assert.equal(report.active, "wasm");
    assert.deepEqual(report.tried.slice(0, 2), [
      { name: "tfjs-node-gpu", ok: false, reason: "not installed (optional; its install downloads libtensorflow)" },
      { name: "tfjs-node", ok: false, reason: "not installed (optional; its install downloads libtensorflow)" },
    ]);
    assert.equal(report.tried.length, 3);
    assert.match(report.tried[2].reason, /^@tensorflow\/tfjs-backend-wasm 4\.22\.0; XNNPACK, SIMD (on|off), 1 thread$/);
    assert.equal(tf.getBackend(), "wasm");
  });

  it("takes tfjs-node-gpu when it loads and TensorFlow sees a GPU", async () => {
    const { load, imported } = loader({ [GPU]: { manifest: manifest(GPU), load: () => registerFakeTensorflow(true) } });
    const report = await selectBackend({ load });
    assert.deepEqual(report, { active: "tfjs-node-gpu", tried: [{ name: "tfjs-node-gpu", ok: true, reason: `${GPU} 4.22.0; running on a GPU` }] });
    assert.equal(tf.getBackend(), "tensorflow");
    assert.deepEqual(imported, [GPU]);
  });

  it("without a GPU, uses the GPU package's binding as tfjs-node", async () => {
    const { load } = loader({ [GPU]: { manifest: manifest(GPU), load: () => registerFakeTensorflow(false) } });
    const report = await selectBackend({ load });
    assert.equal(report.active, "tfjs-node");
    assert.deepEqual(report.tried, [
      { name: "tfjs-node-gpu", ok: false, reason: `${GPU} 4.22.0 loaded, but TensorFlow found no GPU device (is CUDA/cuDNN installed?)` },
      { name: "tfjs-node", ok: true, reason: "libtensorflow on the CPU, through @tensorflow/tfjs-node-gpu's binding; native TensorFlow kernels" },
    ]);
  });

  it("takes a real tfjs-node when there is no GPU package", async () => {
    const { load } = loader({ [NODE]: { manifest: manifest(NODE), load: () => registerFakeTensorflow(false) } });
    const report = await selectBackend({ load });
    assert.equal(report.active, "tfjs-node");
    assert.deepEqual(report.tried[1], { name: "tfjs-node", ok: true, reason: `${NODE} 4.22.0; native TensorFlow kernels` });
  });

  it("never imports an alias of @tensorflow/tfjs installed under the name @tensorflow/tfjs-node", async () => {
    const { load, imported } = loader({ [NODE]: { manifest: { name: "@tensorflow/tfjs", version: tf.version.tfjs }, load: () => registerFakeTensorflow(false) } });
    const report = await selectBackend({ load });
    assert.deepEqual(report.tried[1], { name: "tfjs-node", ok: false, reason: "not installed (the name is an alias of @tensorflow/tfjs)" });
    assert.deepEqual(imported, []);
    assert.equal(report.active, "wasm");
  });

  it("reports a broken native binding and falls back to wasm", async () => {
    const broken = () => {
      throw new Error("The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/napi-v8\nPlease run...");
    };
    const { load } = loader({ [NODE]: { manifest: manifest(NODE), load: broken } });
    const report = await selectBackend({ load });
    assert.equal(report.active, "wasm");
    assert.deepEqual(report.tried[1], {
      name: "tfjs-node",
      ok: false,
      reason: "installed but failed to load: The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/napi-v8",
    });
  });

  it("never imports a package built for another @tensorflow/tfjs (it would bring a second tfjs-core)", async () => {
    const { load, imported } = loader({ [NODE]: { manifest: manifest(NODE, "4.10.0"), load: () => registerFakeTensorflow(false) } });
    const report = await selectBackend({ load });
    assert.deepEqual(report.tried[1], {
      name: "tfjs-node",
      ok: false,
      reason: `${NODE} 4.10.0 needs @tensorflow/tfjs 4.10.0 but this process has ${tf.version.tfjs}; install ${NODE}@${tf.version.tfjs}`,
    });
    assert.deepEqual(imported, []);
    assert.equal(tf.findBackendFactory("tensorflow"), null);
  });

  it("notices a package that registered its backend with another tfjs-core", async () => {
    const { load } = loader({ [NODE]: { manifest: manifest(NODE), load: () => ({}) } });
    const report = await selectBackend({ load });
    assert.equal(report.tried[1].reason, "loaded, but it registered its backend with another copy of @tensorflow/tfjs-core");
    assert.equal(report.active, "wasm");
  });

  it("falls back to cpu when nothing else is there, in order", async () => {
    const { load } = loader({}, false);
    const report = await selectBackend({ load });
    assert.deepEqual(
      report.tried.map((t) => [t.name, t.ok]),
      [["tfjs-node-gpu", false], ["tfjs-node", false], ["wasm", false], ["cpu", true]],
    );
    assert.equal(report.tried[2].reason, "not installed (a dependency of slimlab: run npm install)");
    assert.equal(report.tried[3].reason, "plain JavaScript, always available; the slowest (bench/training.ts measures by how much)");
    assert.equal(tf.getBackend(), "cpu");
  });

  describe("switchBackend", () => {
    it("rejects an unknown name with E_BACKEND, the allowed names and a suggestion", async () => {
      await expectBackendError(() => switchBackend("wsam"), `unknown backend "wsam"; allowed: tfjs-node-gpu, tfjs-node, wasm, cpu (did you mean wasm?).`);
    });

    it("rejects an unavailable backend with why, and what is available; the backend stays", async () => {
      await tf.setBackend("cpu");
      await expectBackendError(
        () => switchBackend("tfjs-node"),
        `backend "tfjs-node" is not available here: not installed (optional; its install downloads libtensorflow). Available: wasm, cpu.`,
      );
      assert.equal(tf.getBackend(), "cpu");
    });

    it("switches, and its note about existing tensors is what tfjs-core does", async () => {
      await switchBackend("wasm");
      const t = tf.tensor1d([1, 2, 3]);
      const engine = tf.engine() as unknown as { state: { tensorInfo: WeakMap<object, { backend: unknown }> }; registry: Record<string, unknown> };
      const home = () => Object.keys(engine.registry).find((k) => engine.registry[k] === engine.state.tensorInfo.get(t.dataId)?.backend);
      const count = tf.memory().numTensors;
      const note = await switchBackend("cpu");
      assert.equal(
        note,
        `Switched to cpu (tfjs backend "cpu", was "wasm"). Existing tensors (${count}) stay where they are; ` +
          `tfjs copies each to "cpu" the first time an op there uses it, and reading values does not move them.`,
      );
      assert.equal(home(), "wasm", "not moved by the switch");
      assert.deepEqual(Array.from(t.dataSync()), [1, 2, 3]);
      assert.equal(home(), "wasm", "not moved by reading");
      tf.add(t, 1).dispose();
      assert.equal(home(), "cpu", "moved by an op on cpu");
      assert.equal(await switchBackend("cpu"), "Already on cpu; nothing moves.");
      t.dispose();
    });

    it("leaves no tensors behind", async () => {
      await switchBackend("cpu");
      const before = tf.memory().numTensors;
      await switchBackend("wasm");
      await switchBackend("cpu");
      await selectBackend();
      assert.equal(tf.memory().numTensors, before);
    });
  });
});
