/**
 * What the layer converters share: values with their layout, the cached
 * NHWC↔NCHW transposes, and how weights and activations are written in
 * float32, int8 "dynamic" or int8 "static" (QDQ) form.
 *
 * Layout: tfjs is NHWC, ONNX Conv/Pool are NCHW. A rank-4 value is kept in
 * whichever layout its producer wrote; a consumer asks for the one it needs
 * (`nchw`/`nhwc`) and gets a Transpose once per value. So a conv stack
 * transposes its input once at the start and once before Flatten, where
 * NHWC order makes the flattened vector equal tfjs'.
 *
 * Int8 weights reuse slimlab's own quantizer (quantizeTensor, symmetric
 * 8-bit, as `%quantize --scheme symmetric --bits 8 [--per-channel]`): its
 * codes are 1…255 around zero point 128, written as int8 code − 128 with
 * zero point 0. Activations use slimlab's affine parameters (linearParams)
 * over the calibrated range, as uint8 (ORT's fast U8S8 kernels).
 */
import { linearParams } from "../quantize/linear";
import { quantizeTensor } from "../quantize/quantizer";
import { Attr, GraphBuilder, transpose } from "./graph";

export type Layout = "nhwc" | "nchw";

/** An activation scale and zero point (set on values that come out of a DequantizeLinear). */
export interface QParams {
  scale: number;
  zeroPoint: number;
}

/** A tensor of the graph being built. */
export interface Value {
  name: string;
  /** Rank as tfjs sees it (batch included). */
  rank: number;
  /** Physical layout of a rank-4 value; "nhwc" for every other rank. */
  layout: Layout;
  q?: QParams;
}

/** How to quantize: "dynamic" writes int8 weights only, "static" also activations over calibrated ranges. */
export interface QuantPlan {
  mode: "dynamic" | "static";
  perChannel: boolean;
  /** Layer name → calibrated output range (static). */
  ranges: Map<string, [number, number]>;
  /** SeparableConv2D layer name → calibrated range of its depthwise output, the value between its two ONNX convolutions (static). */
  depthwiseRanges: Map<string, [number, number]>;
  /** Range per model input (static). */
  inputRanges: [number, number][];
}

/** A weight as the converters receive it: tfjs layout. */
export interface Weight {
  values: Float32Array;
  shape: number[];
}

/** A weight written to the graph: the name to feed the op, and its per-channel (or single) scales when int8. */
export interface WrittenWeight {
  name: string;
  scales?: Float32Array;
}

export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

export class Context {
  private readonly nchwOf = new Map<string, Value>();
  private readonly nhwcOf = new Map<string, Value>();

  constructor(readonly g: GraphBuilder, readonly opset: number, readonly quant?: QuantPlan) {}

  /** `v` in NCHW (rank 4 only); transposed once and cached. */
  nchw(v: Value): Value {
    if (v.rank !== 4 || v.layout === "nchw") return v;
    let t = this.nchwOf.get(v.name);
    if (!t) {
      t = this.requant({ name: this.g.node("Transpose", [v.name], `${v.name}_nchw`, { perm: { ints: TO_NCHW } }), rank: 4, layout: "nchw", q: v.q }, v);
      this.nchwOf.set(v.name, t);
      this.nhwcOf.set(t.name, v);
    }
    return t;
  }

  /** `v` in NHWC, tfjs' own layout. */
  nhwc(v: Value): Value {
    if (v.rank !== 4 || v.layout === "nhwc") return v;
    let t = this.nhwcOf.get(v.name);
    if (!t) {
      t = this.requant({ name: this.g.node("Transpose", [v.name], `${v.name}_nhwc`, { perm: { ints: TO_NHWC } }), rank: 4, layout: "nhwc", q: v.q }, v);
      this.nhwcOf.set(v.name, t);
      this.nchwOf.set(t.name, v);
    }
    return t;
  }

  /** `v` in `layout`. */
  as(v: Value, layout: Layout): Value {
    return layout === "nchw" ? this.nchw(v) : this.nhwc(v);
  }

  /**
   * Writes a weight, in float32 or (when quantizing) int8 + DequantizeLinear.
   *
   * @param base name prefix
   * @param w the weight in tfjs layout
   * @param channelAxis tfjs axis where the output channel starts (slimlab's registry convention)
   * @param perm transpose from tfjs to ONNX layout
   * @param onnxAxis output-channel axis in the ONNX layout
   * @param dims the ONNX shape when it is not the transposed shape (a reshape of it)
   */
  weight(base: string, w: Weight, channelAxis: number, perm: number[], onnxAxis: number, dims = perm.map((p) => w.shape[p])): WrittenWeight {
    if (!this.quant) return { name: this.g.floats(base, dims, transpose(w.values, w.shape, perm)) };
    const q = this.int8Weight(base, w, channelAxis, perm, dims);
    const attrs: Record<string, Attr> = this.quant.perChannel ? { axis: { int: onnxAxis } } : {};
    return { name: this.g.node("DequantizeLinear", [q.codes, q.scale, q.zeroPoint], base, attrs), scales: q.scales };
  }

  /** Int8 codes (slimlab's symmetric 8-bit, code − 128), scale and zero-point initializers of a weight, in ONNX layout. */
  int8Weight(base: string, w: Weight, channelAxis: number, perm: number[], dims = perm.map((p) => w.shape[p])): { codes: string; scale: string; zeroPoint: string; scales: Float32Array } {
    const perChannel = this.quant?.perChannel === true;
    const q = quantizeTensor(w.values, w.shape, { scheme: "symmetric", bits: 8, perChannel, init: "linear" }, channelAxis);
    if (q.decoding.kind !== "linear") throw new Error("Context.int8Weight: symmetric quantizer gave a non-linear decoding");
    const zp = q.decoding.zeroPoint[0];
    const codes = new Int8Array(q.codes.length);
    for (let i = 0; i < codes.length; i++) codes[i] = q.codes[i] - zp;
    const scales = Float32Array.from(q.decoding.scale);
    const sdims = perChannel ? [scales.length] : [];
    return {
      codes: this.g.init(`${base}_q`, "int8", dims, transpose(codes, w.shape, perm)),
      scale: this.g.init(`${base}_scale`, "float32", sdims, scales),
      zeroPoint: this.g.init(`${base}_zp`, "int8", sdims, new Int8Array(scales.length)),
      scales,
    };
  }

  /**
   * Writes a bias. In static mode, with a quantized input and int8 weight, it
   * is int32 at scale x_scale·w_scale (what QLinearConv/QGemm expect).
   */
  bias(base: string, values: Float32Array, x: Value, w: WrittenWeight): string {
    if (this.quant?.mode !== "static" || !x.q || !w.scales) return this.g.floats(base, [values.length], values);
    const n = values.length;
    const scale = new Float32Array(n);
    const codes = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      scale[c] = Math.fround(x.q.scale * w.scales[w.scales.length === 1 ? 0 : c]);
      codes[c] = scale[c] === 0 ? 0 : Math.max(-2147483647, Math.min(2147483647, Math.round(values[c] / scale[c])));
    }
    const qname = this.g.init(`${base}_q`, "int32", [n], codes);
    const sname = this.g.init(`${base}_scale`, "float32", [n], scale);
    return this.g.node("DequantizeLinear", [qname, sname], base, { axis: { int: 0 } });
  }

  /** In static mode, QuantizeLinear → DequantizeLinear over `range` (slimlab's affine uint8 parameters); else `v`. */
  fakeQuant(v: Value, range: [number, number] | undefined): Value {
    if (this.quant?.mode !== "static" || !range) return v;
    const p = linearParams(range[0], range[1], 8, "affine");
    return this.fakeQuantAs(v, { scale: p.scale, zeroPoint: p.zeroPoint });
  }

  /**
   * QuantizeLinear → DequantizeLinear with given parameters. Value-preserving
   * ops (Transpose, MaxPool, Flatten, Reshape) get their input's parameters on
   * their output, which lets ONNX Runtime run them on uint8 and keeps the next
   * Conv/Gemm fed by a DequantizeLinear, so it fuses into QLinearConv/QGemm.
   */
  fakeQuantAs(v: Value, p: QParams): Value {
    const s = this.g.init(`${v.name}_scale`, "float32", [], Float32Array.of(p.scale));
    const z = this.g.init(`${v.name}_zp`, "uint8", [], Uint8Array.of(p.zeroPoint));
    const q = this.g.node("QuantizeLinear", [v.name, s, z], `${v.name}_q`);
    const dq = this.g.node("DequantizeLinear", [q, s, z], `${v.name}_dq`);
    return { ...v, name: dq, q: { ...p } };
  }

  /** `t` (a transpose of `v`) re-quantized with v's parameters in static mode. */
  private requant(t: Value, v: Value): Value {
    return this.quant?.mode === "static" && v.q ? this.fakeQuantAs(t, v.q) : t;
  }
}
