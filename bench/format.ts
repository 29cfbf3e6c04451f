/**
 * The .slim format, measured in one run:
 * 1. Size: bytes on disk of the .slim file saveSlim writes (fs.stat) / the
 *    counted bits slimlab reports for the same model (quantize's sizes, or
 *    size()'s saved and sparse counts for float models), per scheme, on
 *    three models (LeNet-300-100, LeNet-5, a 1M-parameter MLP), with the
 *    median over the models. Goal ≤ 1.03. The file holds its header
 *    (topology and tensor table), which the count leaves out: the payload
 *    column is the file without it.
 * 2. Load: a 1M-parameter MLP quantized 8-bit affine per channel, loadSlim
 *    of its .slim file against loadModel of the same model as the stock
 *    tfjs files saveModel writes (model.json + float32 shard, read and
 *    handed to tf.loadLayersModel), interleaved, median of 15 each. Goal
 *    ≤ 1.5×. Then the decode core alone on that file (checksums, table
 *    checks, every tensor decoded, no tfjs): MB/s of float32 produced.
 *    Goal ≥ 100 MB/s.
 * 3. Decode throughput of the decode core per encoding, one [2000, 2000]
 *    tensor (4M weights, 16 MB as float32) each. Goal ≥ 100 MB/s.
 * Run: node dist/bench/format.js
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { setHost, textHost } from "../plugins/core/host";
import { mulberry32 } from "../plugins/data/random";
import { assembleSlim, parseSlim } from "../plugins/format/container";
import { crc32 } from "../plugins/format/crc32";
import { decodeTensor } from "../plugins/format/decode";
import { encodeTensor } from "../plugins/format/encode";
import { loadSlim, saveSlim } from "../plugins/format/slim";
import { size } from "../plugins/measure/size";
import { zoo } from "../index";
import { prune } from "../plugins/prune/prune";
import { quantizeBinary } from "../plugins/quantize/binary";
import { quantizeFloat16 } from "../plugins/quantize/float16";
import { quantizeKmeans } from "../plugins/quantize/kmeans";
import { quantizeLinear } from "../plugins/quantize/linear";
import { QuantizedTensor } from "../plugins/quantize/quantized";
import { quantize, QuantizeOptions } from "../plugins/quantize/quantize";
import { loadModel, saveModel } from "../plugins/toolkit/io";
import { median, repeat, seconds, table } from "./stats";

/** One way of compressing a model, and how slimlab counts it. */
interface Scheme {
  label: string;
  /** Magnitude-prune every kernel to this sparsity first. */
  prune?: number;
  /** Quantize with these options (none: the float model, counted by size()). */
  quantize?: QuantizeOptions;
  /** saveSlim's options; the count is the Huffman one when huffman is set. */
  huffman?: boolean;
  sparse?: boolean;
}

const SCHEMES: Scheme[] = [
  { label: "float32" },
  { label: "pruned 90%, float32 in CSR", prune: 0.9, sparse: true },
  { label: "float16", quantize: { scheme: "float16" } },
  { label: "affine 8-bit per tensor", quantize: { scheme: "affine", bits: 8 } },
  { label: "affine 8-bit per channel", quantize: { scheme: "affine", bits: 8, perChannel: true } },
  { label: "affine 4-bit per channel", quantize: { scheme: "affine", bits: 4, perChannel: true } },
  { label: "affine 4-bit per channel + Huffman", quantize: { scheme: "affine", bits: 4, perChannel: true }, huffman: true },
  { label: "symmetric 8-bit per channel", quantize: { scheme: "symmetric", bits: 8, perChannel: true } },
  { label: "pow2 5-bit", quantize: { scheme: "pow2", bits: 5 } },
  { label: "binary", quantize: { scheme: "binary" } },
  { label: "ternary", quantize: { scheme: "ternary" } },
  { label: "k-means 6-bit", quantize: { scheme: "kmeans", bits: 6 } },
  { label: "k-means 5-bit + Huffman", quantize: { scheme: "kmeans", bits: 5 }, huffman: true },
  { label: "pruned 90% + k-means 6-bit (CSR)", prune: 0.9, quantize: { scheme: "kmeans", bits: 6 } },
  { label: "pruned 90% + k-means 6-bit + Huffman", prune: 0.9, quantize: { scheme: "kmeans", bits: 6 }, huffman: true },
  { label: "weights + activations 8-bit", quantize: { scheme: "affine", bits: 8, target: "both" } },
];

/** 784 → 1024 → 192 → 10: 1,002,570 parameters. */
function mlp1M(): tf.LayersModel {
  return zoo.mlp([1024, 192], { seed: 3, name: "mlp1m" });
}

const MODELS: [string, () => tf.LayersModel, number[]][] = [
  ["LeNet-300-100", () => zoo.lenet300100({ seed: 1 }), [784]],
  ["LeNet-5", () => zoo.lenet5({ seed: 1 }), [28, 28, 1]],
  ["MLP 1M", mlp1M, [784]],
];

/** The counted bytes and the .slim file of one model under one scheme. */
async function measureSize(build: () => tf.LayersModel, inputShape: number[], s: Scheme, file: string): Promise<{ counted: number; file: number; header: number }> {
  const owned: tf.LayersModel[] = [build()];
  try {
    let m = owned[0];
    if (s.prune !== undefined) {
      m = (await prune(m, { sparsity: s.prune, report: false })).model;
      owned.push(m);
    }
    let counted: number;
    if (s.quantize !== undefined) {
      const calibrate = s.quantize.target === "both" ? tf.randomUniform([32, ...inputShape], 0, 1, "float32", 5) : undefined;
      const r = await quantize(m, { ...s.quantize, huffman: s.huffman === true, ...(calibrate ? { calibrate } : {}) });
      calibrate?.dispose();
      owned.push(r.model);
      m = r.model;
      counted = s.huffman ? (r.sizes.huffmanBytes as number) : r.sizes.quantizedBytes;
    } else {
      const z = await size(m);
      counted = s.sparse ? z.sparseBytes : z.savedBytes;
    }
    const saved = await saveSlim(m, file, { force: true, huffman: s.huffman === true, sparse: s.sparse === true });
    const onDisk = fs.statSync(file).size;
    if (onDisk !== saved.bytes) throw new Error(`${s.label}: saveSlim reported ${saved.bytes} bytes, the file has ${onDisk}`);
    return { counted, file: onDisk, header: saved.headerBytes };
  } finally {
    owned.forEach((m) => m.dispose());
  }
}

async function sizes(dir: string): Promise<void> {
  const rows: (string | number)[][] = [];
  const summary: (string | number)[][] = [];
  for (const s of SCHEMES) {
    const ratios: number[] = [];
    const payload: number[] = [];
    for (const [name, build, shape] of MODELS) {
      const r = await measureSize(build, shape, s, path.join(dir, "size.slim"));
      ratios.push(r.file / r.counted);
      payload.push((r.file - r.header) / r.counted);
      rows.push([s.label, name, r.counted.toFixed(0), r.file, r.header, (r.file / r.counted).toFixed(4), ((r.file - r.header) / r.counted).toFixed(4)]);
    }
    const med = median(ratios);
    summary.push([s.label, med.toFixed(4), median(payload).toFixed(4), med <= 1.03 ? "met" : "missed"]);
  }
  console.log("1. .slim bytes on disk / counted bytes (goal ≤ 1.03), per model");
  console.log(table(["scheme", "model", "counted B", "file B", "header B", "file/counted", "payload/counted"], rows));
  console.log("\nmedian over the three models");
  console.log(table(["scheme", "file/counted", "payload/counted", "goal ≤ 1.03"], summary));
}

/** Seconds to load, each load disposed outside the timing. */
async function loadSeconds(load: () => Promise<tf.LayersModel>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const m = await load();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  m.dispose();
  return s;
}

async function loading(dir: string): Promise<void> {
  const RUNS = 15;
  const r = await quantize(mlp1M(), { scheme: "affine", bits: 8, perChannel: true });
  const file = path.join(dir, "mlp1m.slim");
  const saved = await saveSlim(r.model, file, { force: true });
  const tfjsDir = path.join(dir, "mlp1m-tfjs");
  const written = await saveModel(r.model, tfjsDir, { force: true });
  const params = r.model.countParams();
  r.model.dispose();
  const slimT: number[] = [];
  const tfjsT: number[] = [];
  for (let i = 0; i < 2; i++) {
    await loadSeconds(() => loadSlim(file));
    await loadSeconds(() => loadModel(tfjsDir));
  }
  for (let i = 0; i < RUNS; i++) {
    slimT.push(await loadSeconds(() => loadSlim(file)));
    tfjsT.push(await loadSeconds(() => loadModel(tfjsDir)));
  }
  const [s, t] = [median(slimT), median(tfjsT)];
  console.log(`\n2. loading a ${params.toLocaleString("en-US")}-parameter MLP, affine 8-bit per channel, backend ${tf.getBackend()} (median of ${RUNS}, interleaved)`);
  console.log(table(["format", "bytes on disk", "ms"], [
    [".slim (loadSlim)", saved.bytes, (s * 1000).toFixed(1)],
    ["tfjs model.json + float32 shard (loadModel)", written.weightBytes + written.modelJsonBytes, (t * 1000).toFixed(1)],
  ]));
  console.log(`.slim / tfjs load time: ${(s / t).toFixed(2)}× (goal ≤ 1.5×: ${s / t <= 1.5 ? "met" : "missed"})`);
  const bytes = new Uint8Array(fs.readFileSync(file));
  const decodeAll = () => {
    const f = parseSlim(bytes, "bench");
    return f.header.tensors.map((e) => decodeTensor(e, f.payload, "bench"));
  };
  const d = median(await repeat(decodeAll, RUNS, 2));
  const mb = (4 * params) / 1e6;
  console.log(`decode core on that file: ${(d * 1000).toFixed(1)} ms for ${mb.toFixed(1)} MB of float32: ${(mb / d).toFixed(0)} MB/s (goal ≥ 100 MB/s: ${mb / d >= 100 ? "met" : "missed"})`);
}

const SHAPE = [2000, 2000];
const N = SHAPE[0] * SHAPE[1];

function gaussian(seed: number, keep = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: N }, () => (r() < keep ? Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 0.05 || 0.01 : 0));
}

async function encodings(): Promise<void> {
  const dense = gaussian(1);
  const pruned = gaussian(2, 0.08);
  const cases: [string, Float32Array, QuantizedTensor | undefined, boolean][] = [
    ["float32", dense, undefined, false],
    ["float16", dense, quantizeFloat16(dense, SHAPE), false],
    ["affine 8-bit per channel", dense, quantizeLinear(dense, SHAPE, { bits: 8, mode: "affine", axis: 1 }), false],
    ["affine 4-bit per tensor", dense, quantizeLinear(dense, SHAPE, { bits: 4, mode: "affine" }), false],
    ["binary per channel", dense, quantizeBinary(dense, SHAPE, 1), false],
    ["k-means 6-bit", dense, quantizeKmeans(dense, SHAPE, { bits: 6 }), false],
    ["k-means 5-bit + Huffman", dense, quantizeKmeans(dense, SHAPE, { bits: 5 }), true],
    ["pruned 8% k-means 6-bit CSR", pruned, quantizeKmeans(pruned, SHAPE, { bits: 6 }), false],
    ["pruned 8% k-means 6-bit CSR + Huffman", pruned, quantizeKmeans(pruned, SHAPE, { bits: 6 }), true],
  ];
  const rows: (string | number)[][] = [];
  for (const [label, values, q, huffman] of cases) {
    const w = q?.values ?? values;
    const { entry, section } = encodeTensor("fc/kernel", SHAPE, w, q, { huffman, sparse: false });
    const { bytes } = assembleSlim({ modelTopology: {}, tensors: [entry] }, [section]);
    const decode = () => {
      const f = parseSlim(bytes, "bench");
      return decodeTensor(f.header.tensors[0], f.payload, "bench");
    };
    const s = median(await repeat(decode, 7, 2));
    const out = decode();
    if (!out.every((v, i) => Object.is(v, w[i]))) throw new Error(`${label}: decoded values differ`);
    rows.push([label, entry.layout.type, (bytes.length / 1e6).toFixed(2), (s * 1000).toFixed(1), ((4 * N) / s / 1e6).toFixed(0)]);
  }
  console.log(`\n3. decode core: one [${SHAPE}] tensor (${N / 1e6}M weights, ${(4 * N) / 1e6} MB float32), median of 7 (goal ≥ 100 MB/s)`);
  console.log(table(["encoding", "layout", "file MB", "ms", "MB/s float32"], rows));
  const raw = new Uint8Array(64e6);
  const t = median(await repeat(() => crc32(raw), 5));
  console.log(`\nCRC-32 alone: ${(raw.length / t / 1e6).toFixed(0)} MB/s of file`);
}

async function main(): Promise<void> {
  setHost(textHost(() => undefined)); // quantize and prune report through the host: keep the bench's output to its tables
  await tf.ready();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-bench-format-"));
  try {
    const total = await seconds(async () => {
      await sizes(dir);
      await loading(dir);
      await encodings();
    });
    console.log(`\nbench/format: ${total.toFixed(0)} s`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
