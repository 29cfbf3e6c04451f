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
 * - Each of the rows + 1 row pointers costs pointerBits (default 32).
 * - Bytes = ceil(total bits / 8) per tensor.
 * Deep Compression uses 8 index bits for conv layers and 5 for fc layers.
 */

/** The default index widths of Deep Compression: 5 bits for fc, 8 for conv. */
export const INDEX_BITS = { dense: 5, conv: 8 } as const;

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
  /** Bits per row pointer; default 32. */
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
  const pointerBits = opts.pointerBits ?? 32;
  const rows = shape.slice(-rowAxes).reduce((a, b) => a * b, 1);
  const columns = rows === 0 ? 0 : values.length / rows;
  const span = 2 ** opts.indexBits;
  let nonZeros = 0;
  let fillers = 0;
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let c = 0; c < columns; c++) {
      if (values[c * rows + r] === 0) continue;
      const gap = c - last;
      fillers += Math.ceil(gap / span) - 1;
      nonZeros++;
      last = c;
    }
  }
  const entries = nonZeros + fillers;
  const bits = entries * (opts.valueBits + opts.indexBits) + (rows + 1) * pointerBits;
  return { rows, columns, nonZeros, fillers, entries, bits, bytes: Math.ceil(bits / 8) };
}
