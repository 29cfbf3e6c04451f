/**
 * The size of a pruned weight matrix stored the way Deep Compression stores
 * it (Han, Mao & Dally 2016, §2 and Fig. 2): compressed sparse rows whose
 * column indices are kept as the gap from the previous non-zero, in a few
 * bits, with a filler zero inserted whenever a gap is too long to encode.
 *
 * Exactly what is counted here:
 * - Rows are output channels (the last axis of a Dense or Conv kernel; for
 *   a depthwise kernel [kh, kw, C, m] the last two axes, channel c·m + j as
 *   tfjs orders its outputs). Columns are the remaining axes flattened in
 *   row-major order (for Dense: the inputs; for Conv2D: kh, kw, Cin).
 * - Within a row, the first non-zero's gap is its column + 1, the next ones
 *   the difference of columns. An index of b bits stores gaps 1..2^b (as
 *   gap − 1). A longer gap gets ceil(gap / 2^b) − 1 filler entries: stored
 *   zeros, each advancing 2^b columns.
 * - Every entry (non-zero or filler) costs valueBits + indexBits.
 * - Each of the rows + 1 row pointers costs pointerBits; by default the
 *   fewest bits that can count to the number of entries,
 *   ceil(log2(entries + 1)) (at least 1), since a pointer is an offset into
 *   the entry stream.
 * - Bytes = ceil(total bits / 8) per tensor.
 * Deep Compression uses 8 index bits for conv layers and 5 for fc layers.
 * Which weights go to CSR at all is sparseRule's decision (kernels only);
 * weightStorage applies it to one weight. `%size` and `%prune` both count
 * through weightStorage, so they report the same sparse bytes.
 */

/** The default index widths of Deep Compression: 5 bits for fc, 8 for conv. */
export const INDEX_BITS = { dense: 5, conv: 8 } as const;

/**
 * Bits of one CSR row pointer: the fewest that can hold every offset 0..entries.
 *
 * @param entries stored entries of the tensor (non-zeros + fillers)
 * @returns ceil(log2(entries + 1)), at least 1
 * @example
 *   pointerWidth(18816); // 15
 */
export function pointerWidth(entries: number): number {
  return Math.max(1, Math.ceil(Math.log2(entries + 1)));
}

/** What it takes to store one matrix in relative-index CSR. */
export interface CsrCount {
  rows: number;
  columns: number;
  nonZeros: number;
  /** Zeros stored because a gap exceeded 2^indexBits. */
  fillers: number;
  /** nonZeros + fillers. */
  entries: number;
  bits: number;
  /** ceil(bits / 8). */
  bytes: number;
}

export interface CsrOptions {
  /** Bits per stored value: 32 for float32, 8 for uint8 or a 256-entry codebook. */
  valueBits: number;
  /** Bits per relative index (gap): 5 for fc, 8 for conv in Deep Compression. */
  indexBits: number;
  /** Bits per row pointer; default pointerWidth(entries), the fewest that address every entry. */
  pointerBits?: number;
  /** How many trailing axes make a row index: 1 (Dense, Conv) or 2 (depthwise [.., C, m]); default 1. */
  rowAxes?: 1 | 2;
}

/**
 * Counts the storage of `values` (a kernel of shape `shape`, row-major) in
 * relative-index CSR, under the rules at the top of this file.
 *
 * @param values the kernel's values in tfjs (row-major) order
 * @param shape the kernel's shape, output channels last
 * @param opts value, index and pointer widths, and how many trailing axes index rows
 * @returns rows, non-zeros, fillers, entries, bits and bytes
 * @example
 *   // one row of 40 inputs with non-zeros at columns 0 and 39, 5-bit gaps:
 *   // gaps 1 and 39; 39 > 32 needs one filler, so 3 entries.
 *   csrCount(values, [40, 1], { valueBits: 32, indexBits: 5 }).entries; // 3
 */
export function csrCount(values: ArrayLike<number>, shape: readonly number[], opts: CsrOptions): CsrCount {
  const rowAxes = opts.rowAxes ?? 1;
  const rows = shape.slice(-rowAxes).reduce((a, b) => a * b, 1);
  const columns = rows === 0 ? 0 : values.length / rows;
  const span = 2 ** opts.indexBits;
  // Rows are the fastest-varying axis of the row-major values, so walking a
  // row at a time would stride through memory by `rows`; instead read the
  // values once in order and keep each row's last non-zero column.
  const last = new Int32Array(rows).fill(-1);
  let nonZeros = 0;
  let fillers = 0;
  for (let c = 0, i = 0; c < columns; c++) {
    for (let r = 0; r < rows; r++, i++) {
      if (values[i] === 0) continue;
      const gap = c - last[r];
      if (gap > span) fillers += Math.ceil(gap / span) - 1;
      nonZeros++;
      last[r] = c;
    }
  }
  const entries = nonZeros + fillers;
  const pointerBits = opts.pointerBits ?? pointerWidth(entries);
  const bits = entries * (opts.valueBits + opts.indexBits) + (rows + 1) * pointerBits;
  return { rows, columns, nonZeros, fillers, entries, bits, bytes: Math.ceil(bits / 8) };
}

/** How one weight is stored sparse: its gap width and how many trailing axes index rows. */
export interface SparseRule {
  indexBits: number;
  rowAxes: 1 | 2;
}

/**
 * Which weights the sparse size stores in relative-index CSR, by their role
 * (the part of the weight name after the last "/"): the kernels of Dense
 * (5-bit gaps) and of convolutions (8-bit gaps), as Deep Compression does.
 * Biases, BatchNormalization statistics, embeddings and anything else stay
 * dense: they are small or not pruned.
 *
 * @param role the weight's role: "kernel", "depthwise_kernel", "pointwise_kernel", "bias", ...
 * @param rank the weight's rank (a rank-2 "kernel" is a Dense kernel)
 * @returns the rule, or undefined for a weight stored dense
 * @example
 *   sparseRule("kernel", 2); // {indexBits: 5, rowAxes: 1}
 *   sparseRule("depthwise_kernel", 4); // {indexBits: 8, rowAxes: 2}
 *   sparseRule("bias", 1); // undefined
 */
export function sparseRule(role: string, rank: number): SparseRule | undefined {
  if (role === "kernel") return { indexBits: rank === 2 ? INDEX_BITS.dense : INDEX_BITS.conv, rowAxes: 1 };
  if (role === "pointwise_kernel") return { indexBits: INDEX_BITS.conv, rowAxes: 1 };
  if (role === "depthwise_kernel") return { indexBits: INDEX_BITS.conv, rowAxes: 2 };
  return undefined;
}

/** One weight's non-zeros and its bytes in the sparse count. */
export interface WeightStorage {
  nonZeros: number;
  /** CSR bytes for a kernel (see csrCount), elements × bytes per element otherwise. */
  sparseBytes: number;
  /** The gap width used (0: stored dense). */
  indexBits: number;
}

/**
 * The sparse size of one weight, the single definition `%size` and `%prune`
 * both report: kernels (sparseRule) in relative-index CSR, every other
 * weight dense at its stored width. One pass over the values.
 *
 * @param values the weight's values, row-major
 * @param shape its shape
 * @param role its role ("kernel", "bias", ...)
 * @param widths valueBits per stored non-zero in CSR, and bytesPerElement
 *   of the dense storage (4 for float32, 1 for uint8)
 * @returns non-zeros, bytes and the gap width used
 * @example
 *   weightStorage(kernel.dataSync(), [784, 300], "kernel", { valueBits: 32, bytesPerElement: 4 }).sparseBytes;
 *   weightStorage(new Float32Array(10), [10], "bias", { valueBits: 32, bytesPerElement: 4 }); // {nonZeros: 0, sparseBytes: 40, indexBits: 0}
 */
export function weightStorage(
  values: ArrayLike<number>,
  shape: readonly number[],
  role: string,
  widths: { valueBits: number; bytesPerElement: number }
): WeightStorage {
  const rule = sparseRule(role, shape.length);
  if (rule !== undefined) {
    const c = csrCount(values, shape, { valueBits: widths.valueBits, indexBits: rule.indexBits, rowAxes: rule.rowAxes });
    return { nonZeros: c.nonZeros, sparseBytes: c.bytes, indexBits: rule.indexBits };
  }
  let nonZeros = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) nonZeros++;
  return { nonZeros, sparseBytes: values.length * widths.bytesPerElement, indexBits: 0 };
}
