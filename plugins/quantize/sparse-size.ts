/**
 * Storage size of a quantized tensor whose pruned zeros have no code
 * (`kept` set, see quantized.ts), counted as Deep Compression stores a
 * pruned, weight-shared layer (Han, Mao & Dally 2016, §2 Fig. 2, §3, §4):
 *
 * - the survivors in relative-index CSR, exactly as plugins/measure's
 *   csrCount counts them, with one b-bit code per stored entry (survivor or
 *   filler zero) in place of a float, plus the gap index (5 bits fc, 8 bits
 *   conv) and the (rows + 1) row pointers of pointerWidth(entries) bits;
 *   rounded up to whole bytes like csrCount, so the CSR part equals
 *   `size(model, {valueBits: b})`;
 * - the decoder's parameters (metrics.ts paramBits: 32 bits per codebook
 *   entry, or per α of binary);
 * - with Huffman coding (§4), the code stream and the gap stream are each
 *   coded with a canonical Huffman code (huffman.ts); the code stream's
 *   alphabet is 2^b codes plus one symbol for the filler zero, and each used
 *   symbol's code length costs 8 bits. Once gaps are Huffman-coded, the
 *   fixed gap width no longer sets their cost, only how often a filler is
 *   needed, so the gap width is chosen per tensor: every width from 1 to
 *   16 bits is tried and the smallest total kept, plus 4 bits that record
 *   it. Pointers (pointerWidth of that width's entries) and parameters stay
 *   fixed-width. The rows are chosen the same way: one row per output
 *   channel (the rule below), or one row over the whole tensor in
 *   row-major order, which needs two pointers instead of one per channel
 *   and, for an MNIST Dense kernel, keeps an input pixel's survivors
 *   together; the smaller total wins, per-channel rows on ties.
 *
 * Which axes form rows and how wide a gap is comes from measure's
 * sparseRule (kernels); any other weight with zeros (a bias) is counted as
 * one row with fc-width gaps.
 */
import { INDEX_BITS, SparseRule, csrCount, pointerWidth, sparseRule } from "../measure/sparse";
import { huffmanCode } from "./huffman";
import { paramBits, tensorBits } from "./metrics";
import { QuantizedTensor } from "./quantized";

/** The CSR layout of a weight: gap width and row axes, by its role (the part of the name after "/"). */
export function sparseLayout(name: string, shape: readonly number[]): SparseRule & { shape: number[] } {
  const role = name.slice(name.lastIndexOf("/") + 1);
  const rule = sparseRule(role, shape.length);
  if (rule !== undefined && shape.length >= 2) return { ...rule, shape: [...shape] };
  // One row holding every element (row-major order is then the column order).
  return { indexBits: INDEX_BITS.dense, rowAxes: 1, shape: [shape.reduce((a, b) => a * b, 1), 1] };
}

/** Bits of a quantized tensor in CSR and, optionally, with Huffman-coded streams. */
export interface SparseBits {
  nonZeros: number;
  fillers: number;
  indexBits: number;
  /** 8·(CSR bytes) + parameter bits. */
  bits: number;
  /** 8·ceil((Huffman code stream + gap stream + length tables + row pointers + 4-bit gap width) / 8) + parameter bits. */
  huffmanBits: number;
  /** The gap width the Huffman-coded size uses (NaN when not asked). */
  huffmanIndexBits: number;
  /** The rows the Huffman-coded size uses: the layout's row count, or 1 (NaN when not asked). */
  huffmanRows: number;
}

/** Widths tried for Huffman-coded gaps (a gap symbol must fit the Uint16 stream). */
const HUFFMAN_GAP_WIDTHS = Array.from({ length: 16 }, (_, i) => i + 1);

/**
 * The layouts the Huffman count chooses from, in tie-break order: one row
 * per output channel (unless there is only one), then one row over the
 * whole tensor; within each, every gap width of HUFFMAN_GAP_WIDTHS.
 */
function huffmanLayouts(layout: SparseRule & { shape: number[] }): { rows: number; width: number }[] {
  const channelRows = layout.shape.slice(-layout.rowAxes).reduce((a, b) => a * b, 1);
  return (channelRows === 1 ? [1] : [channelRows, 1]).flatMap((rows) => HUFFMAN_GAP_WIDTHS.map((width) => ({ rows, width })));
}

/**
 * The two symbol streams of a tensor's CSR form, in storage order (rows =
 * output channels, columns ascending): each entry's code (2^bits for a
 * filler zero) and its gap − 1.
 *
 * @param q a quantized tensor with `kept`
 * @param name its weight name ("fc1/kernel"), for the layout
 * @param indexBits gap width (default: the layout's, 5 fc / 8 conv)
 * @param rowCount rows (default: the layout's; 1 walks the tensor in row-major order)
 * @returns the code and gap streams, and the row count
 * @example
 *   csrStreams(q, "fc1/kernel").codes.length; // nonZeros + fillers
 */
export function csrStreams(q: QuantizedTensor, name: string, indexBits?: number, rowCount?: number): { codes: Uint16Array; gaps: Uint16Array; rows: number } {
  const layout = sparseLayout(name, q.shape);
  if (indexBits !== undefined) layout.indexBits = indexBits;
  const kept = q.kept as Uint8Array;
  const rows = rowCount ?? layout.shape.slice(-layout.rowAxes).reduce((a, b) => a * b, 1);
  const columns = rows === 0 ? 0 : kept.length / rows;
  const span = 2 ** layout.indexBits;
  const filler = 2 ** q.bits;
  const codes: number[] = [];
  const gaps: number[] = [];
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let c = 0; c < columns; c++) {
      const i = c * rows + r;
      if (kept[i] === 0) continue;
      let gap = c - last;
      // A gap longer than 2^indexBits is bridged by filler zeros, each advancing 2^indexBits columns (csrCount).
      for (; gap > span; gap -= span) {
        codes.push(filler);
        gaps.push(span - 1);
      }
      codes.push(q.codes[i]);
      gaps.push(gap - 1);
      last = c;
    }
  }
  return { codes: Uint16Array.from(codes), gaps: Uint16Array.from(gaps), rows };
}

/**
 * Bits of Huffman-coded CSR streams (module comment): both streams, their
 * code-length tables at 8 bits per used symbol, the row pointers and 4
 * bits naming the gap width; the parameters are not included.
 *
 * @param s the streams (csrStreams)
 * @param bits code width b (the code alphabet is 2^b codes and the filler)
 * @param width gap width g (the gap alphabet is 2^g)
 * @returns bits
 * @example
 *   huffmanCsrBits(csrStreams(q, "fc1/kernel", 9), 6, 9);
 */
export function huffmanCsrBits(s: { codes: ArrayLike<number>; gaps: ArrayLike<number>; rows: number }, bits: number, width: number): number {
  const hc = huffmanCode(s.codes, 2 ** bits + 1);
  const hg = huffmanCode(s.gaps, 2 ** width);
  const tables = 8 * [...hc.lengths, ...hg.lengths].filter((l) => l > 0).length;
  return hc.bits + hg.bits + tables + (s.rows + 1) * pointerWidth(s.codes.length) + 4;
}

/** The order-0 entropy of a tensor's CSR streams: what no per-symbol code (Huffman included) can beat. */
export interface CsrEntropy {
  /** Σ over both streams of count · −log2(frequency), for the layout below. */
  bits: number;
  /** The gap width and row count of the layout with the fewest bits (over the same choices as the Huffman count). */
  indexBits: number;
  rows: number;
  /** Stream entries (survivors and fillers), and the entropy per entry of each stream. */
  entries: number;
  codeBitsPerEntry: number;
  gapBitsPerEntry: number;
}

/** Σ count · −log2(count / n) over the symbols of `symbols`. */
function entropyBits(symbols: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < symbols.length; i++) counts.set(symbols[i], (counts.get(symbols[i]) ?? 0) + 1);
  let bits = 0;
  for (const c of counts.values()) bits -= c * Math.log2(c / symbols.length);
  return bits;
}

/**
 * The order-0 entropy bound of a pruned, quantized tensor's two CSR streams
 * (centroid indices with fillers, and gaps), minimised over the same gap
 * widths and row layouts as the Huffman count. A Huffman code of a stream
 * costs at least its entropy, and at most one bit per symbol more; the
 * length tables, row pointers and parameters come on top. So `bits` is a
 * floor for the coded streams of this layout: if even this floor plus the
 * fixed parts misses a size goal, no choice of per-symbol code reaches it.
 *
 * @param q a quantized tensor with `kept`
 * @param name its weight name ("fc1/kernel"), for the layout
 * @returns the bound and the layout that gives it
 * @example
 *   csrEntropyBits(q, "fc1/kernel").bits / q.kept.reduce((a, b) => a + b, 0); // bits per survivor
 */
export function csrEntropyBits(q: QuantizedTensor, name: string): CsrEntropy {
  let best: CsrEntropy | undefined;
  for (const { rows, width } of huffmanLayouts(sparseLayout(name, q.shape))) {
    const s = csrStreams(q, name, width, rows);
    const codeBits = entropyBits(s.codes);
    const gapBits = entropyBits(s.gaps);
    if (best === undefined || codeBits + gapBits < best.bits) {
      const n = Math.max(1, s.codes.length);
      best = { bits: codeBits + gapBits, indexBits: width, rows, entries: s.codes.length, codeBitsPerEntry: codeBits / n, gapBitsPerEntry: gapBits / n };
    }
  }
  return best as CsrEntropy;
}

/**
 * Storage of a tensor whose zeros have no code (module comment).
 *
 * @param q a quantized tensor with `kept`
 * @param name its weight name ("fc1/kernel"), for the layout
 * @param huffman also compute the Huffman-coded size (costs one pass over the tensor)
 * @returns non-zeros, fillers, gap width, fixed-width bits and Huffman bits (NaN when not asked)
 * @example
 *   sparseBits(q, "fc1/kernel", true).huffmanBits / 8 / 1024; // KB
 */
export function sparseBits(q: QuantizedTensor, name: string, huffman: boolean): SparseBits {
  const layout = sparseLayout(name, q.shape);
  const kept = q.kept as Uint8Array;
  const csr = csrCount(kept, layout.shape, { valueBits: q.bits, indexBits: layout.indexBits, rowAxes: layout.rowAxes });
  const params = paramBits(q);
  let huffmanBits = NaN;
  let huffmanIndexBits = NaN;
  let huffmanRows = NaN;
  if (huffman) {
    let best = NaN;
    for (const { rows, width } of huffmanLayouts(layout)) {
      const total = huffmanCsrBits(csrStreams(q, name, width, rows), q.bits, width);
      if (!(total >= best)) [best, huffmanIndexBits, huffmanRows] = [total, width, rows]; // per-channel rows, then the narrowest width, win ties
    }
    huffmanBits = 8 * Math.ceil(best / 8) + params;
  }
  return { nonZeros: csr.nonZeros, fillers: csr.fillers, indexBits: layout.indexBits, bits: 8 * csr.bytes + params, huffmanBits, huffmanIndexBits, huffmanRows };
}

/**
 * Bits to store a quantized tensor: sparseBits when its zeros have no code,
 * else fixed-width codes plus parameters (metrics.ts tensorBits).
 *
 * @param q a quantized tensor
 * @param name its weight name
 * @returns bits
 * @example
 *   storageBits(q, "fc1/kernel") / 8 / 1024; // KB
 */
export function storageBits(q: QuantizedTensor, name: string): number {
  return q.kept ? sparseBits(q, name, false).bits : tensorBits(q);
}
