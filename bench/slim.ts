/**
 * .slim decoding throughput: MB of float32 weights produced per second by
 * the decode core (checksums, header checks and decoding; no tfjs), for
 * one [2000, 2000] tensor (4M weights, 16 MB as float32) in each
 * encoding. Goal: ≥ 100 MB/s for every encoding.
 * Run: node dist/bench/slim.js
 */
import { mulberry32 } from "../plugins/data/random";
import { assembleSlim, parseSlim } from "../plugins/format/container";
import { crc32 } from "../plugins/format/crc32";
import { decodeTensor } from "../plugins/format/decode";
import { encodeTensor } from "../plugins/format/encode";
import { quantizeBinary } from "../plugins/quantize/binary";
import { quantizeFloat16 } from "../plugins/quantize/float16";
import { quantizeKmeans } from "../plugins/quantize/kmeans";
import { quantizeLinear } from "../plugins/quantize/linear";
import { QuantizedTensor } from "../plugins/quantize/quantized";
import { median, repeat, table } from "./stats";

const SHAPE = [2000, 2000];
const N = SHAPE[0] * SHAPE[1];

function gaussian(seed: number, keep = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: N }, () => (r() < keep ? Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 0.05 || 0.01 : 0));
}

async function main(): Promise<void> {
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
  console.log(`decode core: one [${SHAPE}] tensor (${N / 1e6}M weights, ${(4 * N) / 1e6} MB float32), median of 7 (goal ≥ 100 MB/s)`);
  console.log(table(["encoding", "layout", "file MB", "ms", "MB/s float32"], rows));
  const raw = new Uint8Array(64e6);
  const t = median(await repeat(() => crc32(raw), 5));
  console.log(`\nCRC-32 alone: ${(raw.length / t / 1e6).toFixed(0)} MB/s of file`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
