/**
 * Graph (plain data, graph.ts) → ONNX ModelProto bytes, with the
 * protobufjs classes of onnx-proto. No hand-written encoding.
 */
import { onnx } from "onnx-proto";
import { Attr, DType, Graph, GraphIO, Initializer } from "./graph";

/** IR version 8 (ONNX 1.10–1.12): read by every onnxruntime from 1.10 and by Debian's python3-onnx. */
export const IR_VERSION = 8;

const TYPES: Record<DType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function tensorProto(t: Initializer): onnx.ITensorProto {
  // raw_data is little-endian, the byte order of every machine Node runs on here.
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name: t.name, dataType: TYPES[t.dtype], dims: t.dims, rawData: Uint8Array.from(bytes) };
}

function attrProto(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("int" in a) return { name, type: T.INT, i: a.int };
  if ("ints" in a) return { name, type: T.INTS, ints: a.ints };
  if ("float" in a) return { name, type: T.FLOAT, f: a.float };
  if ("floats" in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.STRING, s: utf8(a.str) };
}

function valueInfo(io: GraphIO): onnx.IValueInfoProto {
  const dim = io.shape.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d }));
  return { name: io.name, type: { tensorType: { elemType: TYPES[io.dtype], shape: { dim } } } };
}

/**
 * Serialises a graph.
 *
 * @param g the graph
 * @param producer version string written as producer_version
 * @returns the .onnx file's bytes
 */
export function encodeModel(g: Graph, producer: string): Uint8Array {
  const domains = new Set(g.nodes.map((n) => n.domain ?? ""));
  const opsets: onnx.IOperatorSetIdProto[] = [{ domain: "", version: g.opset }];
  if (domains.has("com.microsoft")) opsets.push({ domain: "com.microsoft", version: 1 });
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: "slimlab",
    producerVersion: producer,
    docString: g.doc,
    opsetImport: opsets,
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        domain: n.domain ?? "",
        attribute: Object.entries(n.attrs).map(([k, v]) => attrProto(k, v)),
      })),
      initializer: g.initializers.map(tensorProto),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`encodeModel: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}

/** Decodes a .onnx file (tests, tools). */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
