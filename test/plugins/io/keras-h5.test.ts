/**
 * Keras HDF5 models (Keras 2.x model.save("m.h5")) through loadKerasH5,
 * loadAnyModel and %load_model. The fixtures in test/fixtures/keras are
 * written by scripts/make-keras-h5.py with h5py in Keras 2.11's layout,
 * with expected.json holding a SHA-256 of each weight's float32 bytes and
 * the outputs numpy computed for a fixed input: a Sequential MLP, a
 * functional CNN whose BatchNormalization keeps its moving statistics where
 * a by-position load would misplace them, and a Sequential nested in a
 * functional model. Files that must be refused give one line each.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { createHash } from "crypto";
import { promises as fs } from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import { CellOutcome, CellRunner } from "../../../kernel/cell-runner";
import { registerBuiltins } from "../../../kernel/magics/index";
import { host, Host, setHost, textHost } from "../../../plugins/core/host";
import { invokeMagic } from "../../../plugins/core/magic";
import { kerasWeightName, loadKerasH5, matchWeights } from "../../../plugins/io/keras-h5";
import { loadAnyModel } from "../../../plugins/io/load";
import { loadModelMagic } from "../../../plugins/io/magics";
import { assertRejects, maxAbsDiff } from "../../support/assertions";
import { takeWrites, withWrites, Write } from "../../support/capture";

const FIXTURES = path.resolve(__dirname, "../../../../test/fixtures/keras");
const fixture = (name: string) => path.join(FIXTURES, name);

interface Expected {
  weights: Record<string, { shape: number[]; sha256: string }>;
  input: { shape: number[]; values: number[] };
  output: { shape: number[]; values: number[] };
}

const sha256 = (data: Float32Array) => createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");

describe("io: Keras HDF5 models (loadKerasH5, %load_model)", function () {
  this.timeout(60000);
  let expected: Record<string, Expected>;
  let tmp: string;

  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    expected = JSON.parse(await fs.readFile(fixture("expected.json"), "utf8")).files;
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-keras-"));
  });

  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** The model holds the file's weights bit for bit, and computes numpy's outputs. */
  function checkAgainstNumpy(m: tf.LayersModel, file: string): void {
    const want = expected[file];
    const names = m.weights.map((w) => `${w.originalName}:0`);
    assert.deepStrictEqual([...names].sort(), Object.keys(want.weights).sort(), `${file}: weight names`);
    for (const w of m.weights) {
      const saved = want.weights[`${w.originalName}:0`];
      assert.deepStrictEqual(w.shape, saved.shape, `${file}: ${w.originalName} shape`);
      const values = w.read().dataSync() as Float32Array;
      assert.strictEqual(sha256(values), saved.sha256, `${file}: ${w.originalName} differs from the file's float32 bytes`);
    }
    const x = tf.tensor(want.input.values, want.input.shape);
    const y = m.predict(x) as tf.Tensor;
    assert.deepStrictEqual(y.shape, want.output.shape);
    const diff = maxAbsDiff(y.dataSync(), want.output.values);
    assert.ok(diff < 1e-5, `${file}: output differs from numpy's by ${diff}`);
    tf.dispose([x, y]);
  }

  it("a Sequential MLP (784-32-10): the file's weights, numpy's outputs, no tensor left behind", async () => {
    const tensors = tf.memory().numTensors;
    const m = await loadKerasH5(await fs.readFile(fixture("mlp.h5")), "mlp.h5");
    assert.ok(m instanceof tf.Sequential);
    assert.deepStrictEqual(m.layers.filter((l) => l.weights.length > 0).map((l) => l.name), ["dense", "dense_1"]);
    assert.strictEqual(tf.memory().numTensors - tensors, 4, "the model's four weights only");
    checkAgainstNumpy(m, "mlp.h5");
    m.dispose();
    assert.strictEqual(tf.memory().numTensors, tensors);
  });

  it("a functional CNN: BatchNormalization's four weights by name, not by position", async () => {
    const bytes = await fs.readFile(fixture("cnn.h5"));
    const m = await loadKerasH5(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), "cnn.h5");
    assert.deepStrictEqual(m.layers.map((l) => l.getClassName()), ["InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"]);
    // tfjs lists trainable weights first, so the moving statistics come after the last Dense:
    // a load by position over the whole model would put the Dense kernel into moving_mean.
    assert.deepStrictEqual(m.weights.map((w) => w.originalName).slice(-2), ["batch_normalization/moving_mean", "batch_normalization/moving_variance"]);
    checkAgainstNumpy(m, "cnn.h5");
    m.dispose();
  });

  it("a Sequential nested in a functional model (model_weights/body/hidden/kernel:0)", async () => {
    const m = await loadKerasH5(new Uint8Array(await fs.readFile(fixture("nested.h5"))), "nested.h5");
    assert.deepStrictEqual(m.layers.map((l) => l.name), ["features", "body", "head"]);
    assert.ok(m.layers[1] instanceof tf.Sequential);
    checkAgainstNumpy(m, "nested.h5");
    m.dispose();
  });

  it("%load_model and loadAnyModel take a .h5 path, a file:// URL or an http:// URL", async () => {
    const server = http.createServer((req, res) => {
      fs.readFile(path.join(FIXTURES, path.basename(req.url ?? ""))).then((b) => res.end(b), () => {
        res.statusCode = 404;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const shown: string[] = [];
      const prev = host();
      setHost(textHost((s) => void shown.push(s)));
      const m = (await invokeMagic(loadModelMagic, [fixture("mlp.h5")], {})) as tf.LayersModel;
      setHost(prev);
      assert.match(shown.join(""), /^Loaded a tf\.LayersModel "sequential" from .*mlp\.h5: 3 layers, 25450 parameters\./);
      checkAgainstNumpy(m, "mlp.h5");
      m.dispose();
      for (const s of [pathToFileURL(fixture("cnn.h5")).href, `${base}/cnn.h5`]) {
        const k = await loadAnyModel(s);
        assert.ok(k instanceof tf.LayersModel, s);
        checkAgainstNumpy(k, "cnn.h5");
        k.dispose();
      }
      await assertRejects(loadAnyModel(`${base}/gone.h5`), "E_FILE", /^loadAnyModel: fetching Keras file http:\/\/127\.0\.0\.1:\d+\/gone\.h5 gave HTTP 404/, { oneLine: true });
    } finally {
      server.close();
    }
  });

  it("refuses, in one line naming the file, what it cannot load", async () => {
    const mlp = await fs.readFile(fixture("mlp.h5"));
    const write = async (name: string, bytes: Uint8Array) => {
      await fs.writeFile(path.join(tmp, name), bytes);
      return path.join(tmp, name);
    };
    const truncated = await write("truncated.h5", mlp.subarray(0, 60000));
    // A Keras 3 .keras file is a zip archive (local file header "PK\3\4").
    const zip = await write("model.keras", Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from("config.json model.weights.h5 metadata.json")]));
    const json = await write("model.h5", Buffer.from('{"modelTopology": {}}'));
    const fails = async (file: string, code: string, message: string) => {
      const q = JSON.stringify(file);
      await assertRejects(loadAnyModel(file), code, `loadKerasH5: ${q} ${message}`, { oneLine: true });
    };
    await fails(truncated, "E_FILE", "is truncated: its HDF5 header gives 115568 bytes but it has 60000");
    await fails(zip, "E_FILE", "is a zip archive (the Keras 3 .keras format), not HDF5, and is not supported; save the model as .h5 from tf.keras (Keras 2.x), or convert it to a tfjs model.json");
    await fails(json, "E_FILE", 'is not an HDF5 file (21 bytes without the HDF5 signature); expected a Keras .h5 file from model.save("m.h5")');
    await fails(fixture("not-keras.h5"), "E_FILE", 'is HDF5 but has no model_config attribute, so it is not a Keras model.save() file (its root holds ["x"])');
    await fails(fixture("weights-only.h5"), "E_FILE", 'holds weights only (Keras model.save_weights), without the model\'s topology; save the whole model with model.save("m.h5") and load that');
    await fails(fixture("keras3.h5"), "E_FILE", "was written by Keras 3.3.3; slimlab reads the HDF5 files of Keras 2.x (tf.keras), the format tfjs' converter reads");
    await fails(fixture("unknown-layer.h5"), "E_MODEL", 'uses layer class CustomAttention (layer "dense") that tfjs-layers does not have (a custom layer, or one tfjs has not ported); only built-in layers tfjs implements can be loaded');
    const tensors = tf.memory().numTensors;
    await fails(fixture("shape-mismatch.h5"), "E_MODEL", 'has weight "dense/kernel" of shape [4, 2] but the model built from its config expects [4, 3] for it');
    assert.strictEqual(tf.memory().numTensors, tensors, "the model built before the mismatch was disposed");
    await assertRejects(loadAnyModel(tmp + "/missing.h5"), "E_FILE", /^loadAnyModel: ".*missing\.h5" does not exist; pass a directory holding model\.json, the model\.json file, or a Keras \.h5 file$/);
  });

  it("refuses a functional config that tfjs would retry forever (an input layer that is not there)", async () => {
    // The same bytes with one layer name changed in model_config: batch_normalization -> batch_normalizatiom.
    const bytes = Buffer.from(await fs.readFile(fixture("cnn.h5")));
    const at = bytes.indexOf('"name": "batch_normalization", "inbound_nodes"');
    assert.ok(at > 0);
    bytes.write("m", at + '"name": "batch_normalizatio'.length);
    const tensors = tf.memory().numTensors;
    await assertRejects(loadKerasH5(bytes, "cnn-typo.h5"), "E_MODEL",
      'loadKerasH5: "cnn-typo.h5" has a model config ("model") where layer "max_pooling2d" takes its input from "batch_normalization", which is not one of its layers; tfjs could not build it', { oneLine: true });
    assert.strictEqual(tf.memory().numTensors, tensors, "nothing was built");
  });

  it("pairs a layer's weights by name, then by their last parts, then in order", () => {
    assert.strictEqual(kerasWeightName("dense/kernel:0"), "dense/kernel");
    // Keras order vs tfjs order of BatchNormalization's weights, and names with an outer scope.
    assert.deepStrictEqual(matchWeights(["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"], ["bn/moving_variance:0", "bn/gamma:0", "bn/moving_mean:0", "bn/beta:0"]), [1, 3, 2, 0]);
    assert.deepStrictEqual(matchWeights(["hidden/kernel", "hidden/bias"], ["body/hidden/bias:0", "body/hidden/kernel:0"]), [1, 0]);
    // An RNN's cell scope: the last part decides.
    assert.deepStrictEqual(matchWeights(["lstm/kernel", "lstm/recurrent_kernel", "lstm/bias"], ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"]), [0, 1, 2]);
    // Names that say nothing are paired in order, as Keras loads them.
    assert.deepStrictEqual(matchWeights(["a/w", "a/w_1"], ["x:0", "y:0"]), [0, 1]);
    assert.strictEqual(matchWeights(["a/kernel"], ["a/kernel:0", "a/bias:0"]), undefined);
  });

  describe("in a cell", () => {
    let runner: CellRunner;
    let prevHost: Host;
    let captured: { stdout: Write; stderr: Write };
    const run = (code: string): Promise<CellOutcome> => withWrites(captured, () => runner.run(code));

    before(() => {
      prevHost = host();
      ({ made: runner, writes: captured } = takeWrites(() => new CellRunner(tmp, { stream: () => undefined, display: () => undefined }, registerBuiltins)));
    });

    after(() => {
      runner.close();
      setHost(prevHost);
    });

    it("`const k = %load_model model.h5` gives the model; a bad file is one error line and the kernel goes on", async () => {
      // The magic's type is LoadedModel (a LayersModel or a GraphModel): a cell narrows it itself.
      const ok = await run(`const k = %load_model ${fixture("nested.h5")} --quiet\n(k as any).countParams()`);
      assert.ok(ok.ok, JSON.stringify(ok.error));
      assert.strictEqual(ok.result?.["text/plain"], String(6 * 5 + 5 + 5 * 3 + 3));
      const bad = await run(`const w = %load_model ${fixture("weights-only.h5")}`);
      assert.strictEqual(bad.ok, false);
      assert.strictEqual(bad.error?.traceback.length, 1);
      assert.match(String(bad.error?.evalue), /^loadKerasH5: ".*weights-only\.h5" holds weights only/);
      const after = await run("(k as any).layers.map((l: { name: string }) => l.name).join()");
      assert.strictEqual(after.result?.["text/plain"], "'features,body,head'");
    });
  });
});
