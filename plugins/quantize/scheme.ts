/**
 * The quantization schemes and what each one allows (the "scheme" module of
 * TF-MOT's split: scheme → registry → per-layer config → quantizer). Every
 * limit a user can hit is declared here once, so the magic's help, the
 * option checks and the error messages agree.
 */
import { SlimlabError, show, suggestion } from "../core/errors";

/** How weights are mapped to a few levels. */
export type Scheme = "affine" | "symmetric" | "kmeans" | "pow2" | "binary" | "ternary" | "float16";

export const SCHEMES: readonly Scheme[] = ["affine", "symmetric", "kmeans", "pow2", "binary", "ternary", "float16"];

/** Bits a scheme accepts and uses when none are given. */
export interface BitRange {
  min: number;
  max: number;
  default: number;
  /** Why the range is what it is (shown in the error message). */
  why: string;
}

/**
 * Allowed bit widths per scheme.
 * - affine/symmetric: 2–16, stored as uint8 up to 8 bits and uint16 above
 *   (tfjs' two integer storage types).
 * - kmeans: 1–8, i.e. 2–256 centroids (Deep Compression uses 5 fc / 8 conv).
 * - pow2: 2–8; one sign bit, the rest index exponents, one code is zero.
 * - binary: 1 (XNOR-Net); ternary: 2 (TWN stores {−α, 0, +α} in two bits);
 *   float16: 16.
 */
export const BITS: Readonly<Record<Scheme, BitRange>> = {
  affine: { min: 2, max: 16, default: 8, why: "integer codes stored as uint8/uint16" },
  symmetric: { min: 2, max: 16, default: 8, why: "integer codes stored as uint8/uint16" },
  kmeans: { min: 1, max: 8, default: 6, why: "2^bits centroids per layer" },
  pow2: { min: 2, max: 8, default: 4, why: "a sign bit plus exponent codes" },
  binary: { min: 1, max: 1, default: 1, why: "sign(W)·α" },
  ternary: { min: 2, max: 2, default: 2, why: "{−α, 0, +α}" },
  float16: { min: 16, max: 16, default: 16, why: "IEEE half precision" },
};

/**
 * Checks a scheme name and its bit width, and fills the default width.
 *
 * @param scheme a scheme name (checked, with "did you mean")
 * @param bits requested bits, or undefined for the scheme's default
 * @param fn the public function's name, for messages
 * @returns the scheme and the bits to use
 * @throws SlimlabError E_ARG naming the value and the allowed range
 * @example
 *   checkBits("kmeans", undefined, "quantize"); // { scheme: "kmeans", bits: 6 }
 */
export function checkBits(scheme: unknown, bits: unknown, fn: string): { scheme: Scheme; bits: number } {
  if (typeof scheme !== "string" || !(SCHEMES as readonly string[]).includes(scheme)) {
    const hint = typeof scheme === "string" ? suggestion(scheme, SCHEMES) : "";
    throw new SlimlabError("E_ARG", `${fn}: scheme ${show(scheme)} is not known${hint}; allowed: ${SCHEMES.join(", ")}`);
  }
  const s = scheme as Scheme;
  const r = BITS[s];
  if (bits === undefined) return { scheme: s, bits: r.default };
  if (typeof bits !== "number" || !Number.isInteger(bits) || bits < r.min || bits > r.max) {
    const allowed = r.min === r.max ? `exactly ${r.min}` : `an integer from ${r.min} to ${r.max}`;
    throw new SlimlabError("E_ARG", `${fn}: bits ${show(bits)} is not allowed for scheme ${s} (${r.why}); allowed: ${allowed}`);
  }
  return { scheme: s, bits };
}

/** Rounds half to even, like numpy's np.round that tfjs-converter uses. */
export function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Splits a shape around a channel axis: element (o, c, i) sits at
 * (o·channels + c)·inner + i. Per-channel quantizers walk tensors this way.
 *
 * @param shape the tensor's shape
 * @param axis channel axis, or undefined for one group (per-tensor)
 * @returns outer, channels and inner sizes
 * @example
 *   channelLayout([3, 3, 8, 16], 3); // { outer: 72, channels: 16, inner: 1 }
 */
export function channelLayout(shape: readonly number[], axis: number | undefined): { outer: number; channels: number; inner: number } {
  const size = shape.reduce((a, b) => a * b, 1);
  if (axis === undefined) return { outer: 1, channels: 1, inner: size };
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { outer, channels: shape[axis], inner };
}

/**
 * The shape a weight is quantized in, per output channel: the axes from
 * `axis` to the last flattened into one channel axis. Every built-in kernel
 * but the depthwise ones has its output channels on its last axis, so its
 * view is its own shape; a DepthwiseConv2D kernel [kh, kw, in, m] has
 * in·m output channels, channel i·m + j at [.., i, j] (TensorFlow's
 * depthwise_conv2d layout), so its view is [kh, kw, in·m].
 *
 * @param shape the weight's shape
 * @param axis the first axis of its output-channel index
 * @returns the view's shape (same number of elements, channel axis last)
 * @example
 *   channelView([3, 3, 4, 2], 2); // [3, 3, 8]
 */
export function channelView(shape: readonly number[], axis: number): number[] {
  if (shape.length === 0 || axis >= shape.length) return [...shape];
  return [...shape.slice(0, axis), shape.slice(axis).reduce((a, b) => a * b, 1)];
}
