/**
 * Per-layer rows, size totals and figures of a quantization run.
 */
import { PlotlyFigure } from "../core/figure";
import { binCenters, histogram, range } from "../core/histogram";
import { huffmanCode } from "./huffman";
import { errorStats, tensorBits } from "./metrics";
import { QuantizedTensor } from "./quantized";
import { sparseBits } from "./sparse-size";

/** One quantized weight in the report. */
export interface LayerRow {
  [key: string]: string | number | boolean | null;
  weight: string;
  scheme: string;
  bits: number;
  /** Number of scale groups (1 = per tensor). */
  groups: number;
  params: number;
  /** Distinct decoded values (0 included). */
  distinct: number;
  /** Weights that hold a code: all of them, or the survivors of a pruned tensor whose zeros are stored by position. */
  coded: number;
  /** "dense": a code per weight; "csr": codes for survivors + relative indices (Deep Compression §2, sparse-size.ts). */
  storage: "dense" | "csr";
  mse: number;
  sqnrDb: number;
  maxError: number;
  floatKB: number;
  /** Codes + scales/zero points/codebook (+ relative indices and row pointers for storage "csr"). */
  quantKB: number;
  /** Huffman-coded codes + code-length table + parameters (when huffman is on), else null. */
  huffmanKB: number | null;
  /** Storage "csr" with huffman on: the gap width the Huffman size chose (sparse-size.ts); else null. */
  huffmanGapBits: number | null;
  /** Storage "csr" with huffman on: the rows the Huffman size chose (one per output channel, or 1); else null. */
  huffmanRows: number | null;
}

/**
 * Size totals over the whole model. `fileBytes` is measured: the bytes of
 * the .slim file saveSlim writes for the model (header included), encoded
 * by the writer itself. The others are estimates counted from the codes'
 * bits (unquantized weights at 32 bits, no topology).
 */
export interface Sizes {
  /** All weights as float32 (4 bytes each). */
  floatBytes: number;
  /** Estimate: counted bits of codes, parameters and CSR indices, in bytes. */
  quantizedBytes: number;
  /** Estimate: the same with Huffman-coded indices, when huffman is on. */
  huffmanBytes: number | null;
  ratio: number;
  huffmanRatio: number | null;
  /**
   * Measured: bytes of the .slim file (with Huffman coding when huffman is
   * on), header included; null when the model also holds codes whose
   * weights changed since (`stale`).
   */
  fileBytes: number | null;
  /** floatBytes / fileBytes. */
  fileRatio: number | null;
  /** Whether fileBytes is the Huffman-coded file. */
  fileHuffman: boolean;
  /** Quantized weights of the model whose values changed since their quantize (an --inplace run over an earlier one). */
  stale: string[];
  /** Why fileBytes is null (stale codes, or the writer's refusal), else null. */
  fileNote: string | null;
}

function groupsOf(q: QuantizedTensor): number {
  return q.decoding.kind === "linear" ? q.decoding.scale.length : 1;
}

/**
 * Builds the report rows.
 *
 * @param quantized weight name → quantized tensor
 * @param originals weight name → float values before quantization
 * @param huffman whether to Huffman-code the indices
 * @returns one row per weight
 * @example
 *   layerRows(q, originals, true)[0].huffmanKB;
 */
export function layerRows(quantized: ReadonlyMap<string, QuantizedTensor>, originals: ReadonlyMap<string, Float32Array>, huffman: boolean): LayerRow[] {
  const rows: LayerRow[] = [];
  for (const [name, q] of quantized) {
    const original = originals.get(name) as Float32Array;
    const e = errorStats(original, q.values);
    const sparse = q.kept ? sparseBits(q, name, huffman) : undefined;
    const bits = sparse ? sparse.bits : tensorBits(q);
    let huffmanKB: number | null = null;
    let huffmanGapBits: number | null = null;
    let huffmanRows: number | null = null;
    if (sparse) {
      if (huffman) [huffmanKB, huffmanGapBits, huffmanRows] = [sparse.huffmanBits / 8 / 1024, sparse.huffmanIndexBits, sparse.huffmanRows];
    } else if (huffman) {
      // Alphabet of the codes; each used symbol's code length is stored in 8 bits.
      const alphabet = q.decoding.kind === "float16" ? 65536 : 2 ** q.bits;
      const h = huffmanCode(q.codes, alphabet);
      const table = h.lengths.reduce((s, l) => s + (l > 0 ? 8 : 0), 0);
      huffmanKB = (h.bits + table + (bits - q.codes.length * q.bits)) / 8 / 1024;
    }
    rows.push({
      weight: name,
      scheme: q.scheme,
      bits: q.bits,
      groups: groupsOf(q),
      params: q.codes.length,
      distinct: new Set(q.values).size,
      coded: sparse ? sparse.nonZeros : q.codes.length,
      storage: sparse ? "csr" : "dense",
      mse: e.mse,
      sqnrDb: e.sqnrDb,
      maxError: e.maxError,
      floatKB: (q.codes.length * 4) / 1024,
      quantKB: bits / 8 / 1024,
      huffmanKB,
      huffmanGapBits,
      huffmanRows,
    });
  }
  return rows;
}

/**
 * Totals over the model.
 *
 * @param rows layer rows
 * @param totalParams all scalars of the model's weights
 * @returns float, quantized and Huffman sizes and ratios (the file size is
 *   not known here: fileBytes null until quantize encodes the model)
 * @example
 *   sizes(rows, model.countParams()).ratio; // ≈ 4 for int8
 */
export function sizes(rows: readonly LayerRow[], totalParams: number): Sizes {
  const quantizedParams = rows.reduce((s, r) => s + r.params, 0);
  const rest = (totalParams - quantizedParams) * 4;
  const floatBytes = totalParams * 4;
  const quantizedBytes = rest + rows.reduce((s, r) => s + r.quantKB * 1024, 0);
  const hasHuffman = rows.length > 0 && rows.every((r) => r.huffmanKB !== null);
  const huffmanBytes = hasHuffman ? rest + rows.reduce((s, r) => s + (r.huffmanKB as number) * 1024, 0) : null;
  return {
    floatBytes,
    quantizedBytes,
    huffmanBytes,
    ratio: floatBytes / quantizedBytes,
    huffmanRatio: huffmanBytes === null ? null : floatBytes / huffmanBytes,
    fileBytes: null,
    fileRatio: null,
    fileHuffman: false,
    stale: [],
    fileNote: null,
  };
}

/**
 * Histogram of a weight's float values (all of them, in 200 bins) with its
 * quantization levels overlaid.
 *
 * @param name weight name
 * @param original float values
 * @param q its quantized form
 * @returns a Plotly figure (200 bin counts and at most 512 levels, whatever the tensor's size)
 * @example
 *   plotlyBundle(histogramFigure("fc1/kernel", w, q));
 */
export function histogramFigure(name: string, original: Float32Array, q: QuantizedTensor): PlotlyFigure {
  const [lo, hi] = range([original]);
  const h = histogram([original], lo, hi, 200, false);
  const width = h.edges[1] - h.edges[0];
  const levels = [...new Set(q.values)].sort((a, b) => a - b);
  const shown = levels.length > 512 ? levels.filter((_, i) => i % Math.ceil(levels.length / 512) === 0) : levels;
  return {
    data: [
      { type: "bar", x: binCenters(h), y: h.counts, width, name: "float weights", opacity: 0.75 },
      { type: "scatter", mode: "markers", x: shown, y: shown.map(() => 0), name: `levels (${levels.length})`, marker: { symbol: "line-ns-open", size: 14, color: "crimson" } },
    ],
    layout: { title: { text: `${name}: ${q.scheme} ${q.bits}-bit` }, xaxis: { title: { text: "weight" } }, yaxis: { title: { text: "count" } }, bargap: 0 },
  };
}

/**
 * Bar chart of float vs quantized (vs Huffman) size per layer.
 *
 * @param rows layer rows
 * @returns a Plotly figure
 * @example
 *   plotlyBundle(sizeFigure(result.layers));
 */
export function sizeFigure(rows: readonly LayerRow[]): PlotlyFigure {
  const x = rows.map((r) => r.weight);
  const data: Record<string, unknown>[] = [
    { type: "bar", name: "float32", x, y: rows.map((r) => r.floatKB) },
    { type: "bar", name: "quantized (counted)", x, y: rows.map((r) => r.quantKB) },
  ];
  if (rows.every((r) => r.huffmanKB !== null)) data.push({ type: "bar", name: "quantized + Huffman (counted)", x, y: rows.map((r) => r.huffmanKB) });
  return { data, layout: { title: { text: "Size per layer (KB): counted bits, an estimate of the file" }, barmode: "group", yaxis: { title: { text: "KB" } } } };
}
