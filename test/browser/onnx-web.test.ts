/**
 * The exported .onnx files in a real browser: Debian's Chromium (driven by
 * playwright-core) loads onnxruntime-web's own built files (ort.wasm.min.js
 * and its WebAssembly) from a local server, runs a float32 and two int8
 * exports of a briefly trained LeNet-300-100 on 100 MNIST test digits on
 * the wasm execution provider, and must give what onnxruntime-node gives
 * for the same files. Without Chromium or without the onnxruntime-web
 * package the test is skipped with how to get them, except under CI=true,
 * where it fails.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { Browser, chromium } from "playwright-core";
import { Host, setHost, textHost } from "../../plugins/core/host";
import { loadMnist } from "../../plugins/data/mnist";
import { lenet300100 } from "../../plugins/models/zoo";
import { exportOnnx, ExportOnnxOptions } from "../../plugins/onnx/export";
import { loadOnnx, ort } from "../../plugins/onnx/runtime";
import { StaticServer, serve } from "./static-server";
import { CHROMIUM_ARGS, CHROMIUM, differences, fitBriefly, requireChromium, skipUnlessCi, tearDown } from "./support";

const IMAGES = 100;
/** Same file, same float kernels' arithmetic up to summation order and SIMD width. */
const FP32_TOLERANCE = 1e-5;
/**
 * Int8: the integer sums are exact on both sides; what may differ is the
 * float multiply that requantizes them (fused differently by MLAS' x86 and
 * WebAssembly kernels), which can move a value across a rounding boundary:
 * one step of an activation. The outputs are softmax probabilities, so one
 * step of the last hidden layer (scale ≈ range/255) moves a probability by
 * far less than 0.01.
 */
const INT8_TOLERANCE = 0.01;

/** The package's files the page needs (ort.wasm.min.js loads the other two from wasmPaths). */
const ORT_WEB_FILES: [string, string][] = [
  ["ort.wasm.min.js", "text/javascript"],
  ["ort-wasm-simd-threaded.mjs", "text/javascript"],
  ["ort-wasm-simd-threaded.wasm", "application/wasm"],
];

/** onnxruntime-web's dist folder, or undefined when the package is not installed. */
function ortWebDist(): string | undefined {
  try {
    return path.dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
  } catch {
    return undefined;
  }
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>slimlab onnxruntime-web test</title>
<link rel="icon" href="data:,">
<script src="ort/ort.wasm.min.js"></script>
</head><body></body></html>
`;

interface Case {
  name: string;
  file: string;
  bytes: number;
  /** onnxruntime-node's outputs on the digits. */
  expected: Float32Array;
}

/** What the page reports. */
interface PageRun {
  version: string;
  results: { name: string; outputs: number[]; dims: number[]; ms: number }[];
}


describe("onnxruntime-web in Chromium (wasm) runs slimlab's ONNX exports as onnxruntime-node does", function () {
  this.timeout(300000);
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let dir: string | undefined;
  let cases: Case[] = [];
  let previousHost: Host | undefined;

  before(async function () {
    requireChromium(this);
    const dist = ortWebDist();
    if (dist === undefined) skipUnlessCi(this, "the onnxruntime-web package is not installed", `add it with \`npm install --save-dev onnxruntime-web@${ort().env.versions.common}\` (the version of onnxruntime-node)`);
    previousHost = setHost(textHost(() => undefined));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-ort-web-"));
    const model = lenet300100({ seed: 1 });
    await fitBriefly(model, 8);
    const calibration = loadMnist({ split: "train", subset: 256, shuffle: true, seed: 3, shape: "flat" }).xs;
    const { xs } = loadMnist({ split: "test", subset: IMAGES, shape: "flat" });
    const digits = Float32Array.from(xs.dataSync());
    const exports: [string, ExportOnnxOptions][] = [
      ["lenet300100-fp32", {}],
      ["lenet300100-int8-static-per-channel", { int8: "static", calibrate: calibration, perChannel: true }],
      ["lenet300100-int8-dynamic", { int8: "dynamic" }],
    ];
    for (const [name, options] of exports) {
      const file = path.join(dir, `${name}.onnx`);
      const written = await exportOnnx(model, file, options);
      const node = await loadOnnx(file, { threads: 1 });
      const y = await node.predict(xs);
      cases.push({ name, file: path.basename(file), bytes: written.bytes, expected: Float32Array.from(y.dataSync()) });
      y.dispose();
      await node.dispose();
    }
    tf.dispose([xs, calibration]);
    model.dispose();
    const routes: Parameters<typeof serve>[0] = {
      "/": { body: PAGE, type: "text/html; charset=utf-8" },
      "/digits.f32": { body: new Uint8Array(digits.buffer, digits.byteOffset, digits.byteLength), type: "application/octet-stream" },
    };
    for (const [file, type] of ORT_WEB_FILES) routes[`/ort/${file}`] = { file: path.join(dist as string, file), type };
    for (const c of cases) routes[`/models/${c.file}`] = { file: path.join(dir, c.file), type: "application/octet-stream" };
    server = await serve(routes);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 });
  });

  after(async () => {
    await tearDown(browser, server, dir);
    if (previousHost !== undefined) setHost(previousHost);
  });

  it(`float32 within ${FP32_TOLERANCE} and int8 (static per-channel, dynamic) within ${INT8_TOLERANCE} of Node's ORT, same argmax on ${IMAGES} digits`, async () => {
    const context = await (browser as Browser).newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`${(server as StaticServer).origin}/`);
    const run: PageRun = await page.evaluate(async (specs) => {
      type OrtTensor = { data: Float32Array; dims: readonly number[] };
      type Session = { inputNames: string[]; outputNames: string[]; run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>; release(): Promise<void> };
      const ortWeb = (window as unknown as { ort: { env: { versions: Record<string, string>; wasm: { wasmPaths: string; numThreads: number } }; Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown; InferenceSession: { create(bytes: Uint8Array, options: object): Promise<Session> } } }).ort;
      ortWeb.env.wasm.wasmPaths = new URL("ort/", location.href).href;
      ortWeb.env.wasm.numThreads = 1;
      const digits = new Float32Array(await (await fetch("digits.f32")).arrayBuffer());
      const results = [];
      for (const s of specs) {
        const t0 = performance.now();
        const bytes = new Uint8Array(await (await fetch(`models/${s.file}`)).arrayBuffer());
        const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
        const out = await session.run({ [session.inputNames[0]]: new ortWeb.Tensor("float32", digits, [digits.length / 784, 784]) });
        const y = out[session.outputNames[0]];
        results.push({ name: s.name, outputs: Array.from(y.data), dims: [...y.dims], ms: performance.now() - t0 });
        await session.release();
      }
      return { version: ortWeb.env.versions.web ?? ortWeb.env.versions.common, results };
    }, cases.map(({ name, file }) => ({ name, file })));
    await context.close();
    assert.strictEqual(run.version, ort().env.versions.common, "onnxruntime-web and onnxruntime-node are the same release");
    for (const c of cases) {
      const r = run.results.find((x) => x.name === c.name);
      assert.ok(r, `no result for ${c.name}`);
      assert.deepStrictEqual(r.dims, [IMAGES, 10]);
      const { maxDiff, argmaxRows } = differences(r.outputs, c.expected);
      console.log(`      ${c.name} (${(c.bytes / 1024).toFixed(1)} KB): max |web − node| = ${maxDiff.toExponential(2)}, argmax differs on ${argmaxRows.length} of ${IMAGES}; fetch, session and run took ${r.ms.toFixed(0)} ms`);
      assert.deepStrictEqual(argmaxRows, [], `${c.name}: argmax differs in rows ${argmaxRows.join(", ")}`);
      assert.ok(maxDiff <= (c.name.endsWith("fp32") ? FP32_TOLERANCE : INT8_TOLERANCE), `${c.name}: max |diff| ${maxDiff}`);
    }
    assert.deepStrictEqual(errors, [], `page errors; requests: ${(server as StaticServer).requests.join(" ")}`);
  });
});
