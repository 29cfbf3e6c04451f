/**
 * A tf.GraphModel made without Python: the model.json tfjs-converter writes
 * for a frozen graph (a GraphDef in JSON: Placeholder, Const, MatMul,
 * BiasAdd, Relu/Softmax nodes), written by hand from a dense chain's
 * weights, with the weights in one little-endian float32 shard.
 */
import * as tf from "@tensorflow/tfjs";
import { promises as fs } from "fs";
import * as path from "path";

const dims = (shape: readonly number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const float = { type: "DT_FLOAT" };

/** model.json content and shard bytes for `model`, a Sequential of Dense layers (relu inside, softmax last). */
export function denseGraph(model: tf.LayersModel): { json: tf.io.ModelJSON; shard: Uint8Array } {
  const inputWidth = model.inputs[0].shape[1] as number;
  const node: Record<string, unknown>[] = [{ name: "x", op: "Placeholder", attr: { dtype: float, shape: { shape: dims([-1, inputWidth]) } } }];
  const weights: tf.io.WeightsManifestEntry[] = [];
  const parts: Float32Array[] = [];
  let last = "x";
  model.layers.forEach((layer, i) => {
    const [k, b] = layer.getWeights();
    const kn = `${layer.name}/kernel`;
    const bn = `${layer.name}/bias`;
    for (const [name, t] of [[kn, k], [bn, b]] as const) {
      node.push({ name, op: "Const", attr: { dtype: float, value: { tensor: { dtype: "DT_FLOAT", tensorShape: dims(t.shape) } } } });
      weights.push({ name, shape: t.shape, dtype: "float32" });
      parts.push(t.dataSync() as Float32Array);
    }
    node.push({ name: `${layer.name}/MatMul`, op: "MatMul", input: [last, kn], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } });
    node.push({ name: `${layer.name}/BiasAdd`, op: "BiasAdd", input: [`${layer.name}/MatMul`, bn], attr: { T: float, data_format: { s: Buffer.from("NHWC").toString("base64") } } });
    const act = i === model.layers.length - 1 ? "Softmax" : "Relu";
    node.push({ name: `${layer.name}/${act}`, op: act, input: [`${layer.name}/BiasAdd`], attr: { T: float } });
    last = `${layer.name}/${act}`;
  });
  const size = parts.reduce((n, p) => n + p.byteLength, 0);
  const shard = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    shard.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  const json = {
    format: "graph-model",
    generatedBy: "2.15.0",
    convertedBy: "hand-written for slimlab tests",
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights }],
  } as unknown as tf.io.ModelJSON;
  return { json, shard };
}

/** Writes denseGraph(model) to `dir` as model.json + group1-shard1of1.bin. */
export async function writeDenseGraph(model: tf.LayersModel, dir: string): Promise<void> {
  const { json, shard } = denseGraph(model);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, "model.json"), JSON.stringify(json));
  await fs.writeFile(path.join(dir, "group1-shard1of1.bin"), shard);
}
