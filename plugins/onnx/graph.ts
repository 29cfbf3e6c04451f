/**
 * An ONNX graph as plain data (pure: no files, no protobuf). The converter
 * (convert.ts) fills a GraphBuilder; proto.ts turns the result into bytes.
 */

/** Element types the exporter writes. */
export type DType = "float32" | "uint8" | "int8" | "int32" | "int64";

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

/** A constant tensor of the graph (weights, scales, shapes). */
export interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** An attribute value, tagged with its ONNX kind. */
export type Attr = { int: number } | { ints: number[] } | { float: number } | { floats: number[] } | { str: string };

export interface GraphNode {
  op: string;
  /** Input names; "" for an omitted optional input. */
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, Attr>;
  /** Operator domain; "" for the default ONNX domain. */
  domain?: string;
}

/** A graph input or output: name, element type and shape (a string is a symbolic dimension). */
export interface GraphIO {
  name: string;
  dtype: DType;
  shape: (number | string)[];
}

export interface Graph {
  name: string;
  nodes: GraphNode[];
  initializers: Initializer[];
  inputs: GraphIO[];
  outputs: GraphIO[];
  opset: number;
  /** Free text kept in the model's doc_string (what was exported and how). */
  doc: string;
}

/** Builds a graph node by node with unique names. */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly initializers: Initializer[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet, starting with `base`. */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, "_") || "t";
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output named after `base`; returns the output's name. */
  node(op: string, inputs: string[], base: string, attrs: Record<string, Attr> = {}, domain?: string): string {
    return this.nodeN(op, inputs, [base], attrs, domain)[0];
  }

  /** Adds a node with several outputs; returns their names. */
  nodeN(op: string, inputs: string[], bases: string[], attrs: Record<string, Attr> = {}, domain?: string): string[] {
    const outputs = bases.map((b) => this.fresh(b));
    this.nodes.push({ op, inputs, outputs, name: this.fresh(`${op}_${bases[0]}`), attrs, ...(domain ? { domain } : {}) });
    return outputs;
  }

  /** Adds an initializer; returns its name. */
  init(base: string, dtype: DType, dims: number[], data: TensorData): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`GraphBuilder.init: ${base} has ${data.length} values for dims [${dims.join(", ")}]`);
    const name = this.fresh(base);
    this.initializers.push({ name, dtype, dims: [...dims], data });
    return name;
  }

  /** A float32 initializer. */
  floats(base: string, dims: number[], values: ArrayLike<number>): string {
    return this.init(base, "float32", dims, Float32Array.from(values));
  }

  /** A 1-D int64 initializer (shapes, axes). */
  int64s(base: string, values: readonly number[]): string {
    return this.init(base, "int64", [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }
}

/**
 * Transposes a row-major tensor.
 *
 * @param data values in `dims` order
 * @param dims the source shape
 * @param perm output axis i is source axis perm[i] (numpy's transpose)
 * @returns the transposed values (same typed-array kind)
 * @example
 *   transpose(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], [1, 0]); // 1 4 2 5 3 6
 */
export function transpose<T extends TensorData>(data: T, dims: readonly number[], perm: readonly number[]): T {
  const rank = dims.length;
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const srcStride = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) srcStride[i] = srcStride[i + 1] * dims[i + 1];
  const outDims = perm.map((p) => dims[p]);
  const stride = perm.map((p) => srcStride[p]);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < data.length; o++) {
    out[o] = data[src];
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++;
      src += stride[a];
      if (idx[a] < outDims[a]) break;
      src -= stride[a] * outDims[a];
      idx[a] = 0;
    }
  }
  return out;
}
