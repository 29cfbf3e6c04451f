/**
 * Encoding one weight into a .slim section (the inverse of decode.ts).
 *
 * Which encoding a weight gets:
 * - values: its quantized form when `%quantize` recorded one (linear codes
 *   with their scales, a codebook, or float16), else float32;
 * - layout: a quantized tensor whose pruned zeros have no code (`kept`)
 *   goes to relative-index CSR with the rows and gap width sparse-size.ts
 *   counts (5-bit gaps for Dense kernels, 8-bit for convolutions). With
 *   `sparse`, any other kernel with zeros also goes to CSR when that is
 *   smaller than dense (what `%size`'s sparse column counts). Everything
 *   else is dense. With `huffman`, coded tensors are Huffman-coded; a CSR
 *   tensor's rows (one per output channel, or one over the whole tensor)
 *   and gap width (1–16 bits) are then the pair whose total is smallest,
 *   by sparse-size.ts' formula.
 *
 * Fixed-width CSR differs from sparse-size.ts' count in one point: the
 * count lets a filler be any entry with a gap of 2^g, which a reader
 * cannot tell from a real element 2^g columns on when every code is a
 * value. The file marks fillers with the all-ones gap field instead, so a
 * real gap is at most 2^g − 1 and a filler moves 2^g − 1 columns; a few
 * more fillers than counted (measured in test/plugins/format).
 */
import { SlimlabError } from "../core/errors";
import { pointerWidth, sparseRule } from "../measure/sparse";
import { huffmanCode } from "../quantize/huffman";
import { QuantizedTensor } from "../quantize/quantized";
import { huffmanCsrBits, sparseLayout } from "../quantize/sparse-size";
import { BitWriter } from "./bits";
import { LayoutSpec, TensorEntry, ValuesSpec, elementCount } from "./container";
import { MAX_CODE_LENGTH, writeLengths } from "./huffman-table";

/** How weights are laid out (see module comment). */
export interface EncodeOptions {
  huffman: boolean;
  sparse: boolean;
}

/** One encoded tensor: its table entry (offset and length still 0) and its section. */
export interface EncodedTensor {
  entry: TensorEntry;
  section: Uint8Array;
}

/** A tensor as codes: the values spec, the parameter bytes and one code per element. */
interface Coded {
  values: ValuesSpec;
  params: Uint8Array;
  codes: ArrayLike<number>;
  bits: number;
  scheme: string;
}

const f32 = Math.fround;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A Float32Array's bytes, little-endian, bit for bit (NaN payloads included). */
function rawBytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, 4 * values.length).slice();
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(4 * values.length);
  const d = new DataView(out.buffer);
  bits.forEach((b, i) => d.setUint32(4 * i, b, true));
  return out;
}

/** Numbers as little-endian float32 bytes. */
function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const d = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) d.setFloat32(4 * i, values[i], true);
  return out;
}

/** The linear parameters in the most compact form that reproduces them exactly (container.ts ValuesSpec). */
function linearCoded(q: QuantizedTensor, d: QuantizedTensor["decoding"] & { kind: "linear" }, axes: [number, number] | null): Coded {
  const { scale, min, zeroPoint } = d;
  const C = scale.length;
  const base = { type: "linear" as const, bits: q.bits, axes };
  const alpha = q.scheme === "binary" ? { k: 2, z: 0.5 } : q.scheme === "ternary" ? { k: 1, z: 1 } : undefined;
  if (alpha && Array.from(scale).every((s, c) => Object.is(-min[c], f32(-min[c])) && Object.is(s, alpha.k * -min[c]) && Object.is(min[c], -(alpha.z * s)))) {
    return { values: { ...base, params: "alpha", alphaScale: alpha.k, alphaZero: alpha.z }, params: float32Bytes(Array.from(min, (m) => -m)), codes: q.codes, bits: q.bits, scheme: q.scheme };
  }
  const fitsZero = Array.from(scale).every((s, c) => {
    const z = zeroPoint[c];
    return s === f32(s) && Number.isInteger(z) && Math.abs(z) < 2 ** 31 && Object.is(min[c], -z * s || 0);
  });
  if (fitsZero) {
    const params = new Uint8Array(8 * C);
    const v = new DataView(params.buffer);
    for (let c = 0; c < C; c++) {
      v.setFloat32(4 * c, scale[c], true);
      v.setInt32(4 * (C + c), zeroPoint[c], true);
    }
    return { values: { ...base, params: "scale-zero" }, params, codes: q.codes, bits: q.bits, scheme: q.scheme };
  }
  const params = new Uint8Array(16 * C);
  const v = new DataView(params.buffer);
  for (let c = 0; c < C; c++) {
    v.setFloat64(8 * c, scale[c], true);
    v.setFloat64(8 * (C + c), min[c], true);
  }
  return { values: { ...base, params: "scale-min" }, params, codes: q.codes, bits: q.bits, scheme: q.scheme };
}

/**
 * The axes a linear decoding's channel index runs over (quantized.ts): one
 * channel for a per-tensor decoding; `axis` alone when there are
 * shape[axis] scales; `axis` and every axis after it, flattened, when
 * there are that many (a depthwise kernel [kh, kw, in, m] per output
 * channel: axes 2–3).
 */
function channelAxes(name: string, q: QuantizedTensor, d: QuantizedTensor["decoding"] & { kind: "linear" }): [number, number] | null {
  const C = d.scale.length;
  if (d.axis === undefined && C === 1) return null;
  const a = d.axis ?? -1;
  if (a >= 0 && a < q.shape.length) {
    if (C === q.shape[a]) return [a, a + 1];
    if (C === elementCount(q.shape.slice(a))) return [a, q.shape.length];
  }
  throw new SlimlabError("E_MODEL", `saveSlim: weight ${name} of shape [${q.shape}] has ${C} scales along axis ${d.axis}, which fit neither that axis nor the axes from it on; re-run quantize on it`);
}

function codedOf(name: string, values: Float32Array, q: QuantizedTensor | undefined): Coded {
  if (q === undefined) return { values: { type: "float32" }, params: new Uint8Array(0), codes: new Uint32Array(values.buffer, values.byteOffset, values.length), bits: 32, scheme: "none" };
  const d = q.decoding;
  if (d.kind === "float16") return { values: { type: "float16" }, params: new Uint8Array(0), codes: q.codes, bits: 16, scheme: q.scheme };
  if (d.kind === "linear") return linearCoded(q, d, channelAxes(name, q, d));
  if (d.codebook.length > 2 ** q.bits || d.codebook.length === 0) {
    throw new SlimlabError("E_MODEL", `saveSlim: weight ${name} has a codebook of ${d.codebook.length} entries for ${q.bits}-bit codes; re-run quantize on it`);
  }
  return { values: { type: "codebook", bits: q.bits, size: d.codebook.length }, params: rawBytes(d.codebook), codes: q.codes, bits: q.bits, scheme: q.scheme };
}

/** Relative-index entries: element index (−1 for a filler) and gap field per entry, row by row, and the row pointers. */
interface CsrEntries {
  index: Int32Array;
  field: Int32Array;
  pointers: number[];
}

/**
 * Walks the stored elements of `mask` row by row (element i is in row
 * i mod rows, column ⌊i / rows⌋). `maxGap` is the longest gap one entry
 * can encode, `step` how far a filler moves, `fillerField` its gap field.
 */
function csrEntries(mask: ArrayLike<number>, rows: number, maxGap: number, step: number, fillerField: number): CsrEntries {
  const columns = rows === 0 ? 0 : mask.length / rows;
  const index: number[] = [];
  const field: number[] = [];
  const pointers = [0];
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let c = 0; c < columns; c++) {
      const i = c * rows + r;
      if (mask[i] === 0) continue;
      let gap = c - last;
      for (; gap > maxGap; gap -= step) {
        index.push(-1);
        field.push(fillerField);
      }
      index.push(i);
      field.push(gap - 1);
      last = c;
    }
    pointers.push(index.length);
  }
  return { index: Int32Array.from(index), field: Int32Array.from(field), pointers };
}

/** The code symbol of each entry, 2^bits for a filler. */
function entrySymbols(e: CsrEntries, codes: ArrayLike<number>, filler: number): Uint32Array {
  return Uint32Array.from(e.index, (i) => (i < 0 ? filler : codes[i]));
}

function checkLengths(name: string, lengths: Uint8Array): void {
  if (lengths.some((l) => l > MAX_CODE_LENGTH)) throw new SlimlabError("E_MODEL", `saveSlim: weight ${name} needs a Huffman code longer than ${MAX_CODE_LENGTH} bits; save it without huffman`);
}

function writeDense(w: BitWriter, c: Coded): void {
  for (let i = 0; i < c.codes.length; i++) w.write(c.codes[i], c.bits);
}

function writeDenseHuffman(name: string, w: BitWriter, c: Coded): void {
  const h = huffmanCode(c.codes, 2 ** c.bits);
  checkLengths(name, h.lengths);
  writeLengths(w, h.lengths);
  for (let i = 0; i < c.codes.length; i++) w.writeMsbFirst(h.codes[c.codes[i]], h.lengths[c.codes[i]]);
}

function writeCsr(w: BitWriter, c: Coded, e: CsrEntries, gapBits: number, pointerBits: number): void {
  for (const p of e.pointers) w.write(p, pointerBits);
  for (let k = 0; k < e.index.length; k++) {
    w.write(e.index[k] < 0 ? 0 : c.codes[e.index[k]], c.bits);
    w.write(e.field[k], gapBits);
  }
}

/** Bits of csr-huffman at one gap width, counted by sparse-size.ts' own formula. */
function csrHuffmanBits(c: Coded, mask: ArrayLike<number>, rows: number, gapBits: number): number {
  const span = 2 ** gapBits;
  const e = csrEntries(mask, rows, span, span, span - 1);
  return huffmanCsrBits({ codes: entrySymbols(e, c.codes, 2 ** c.bits), gaps: e.field, rows }, c.bits, gapBits);
}

function writeCsrHuffman(name: string, w: BitWriter, c: Coded, e: CsrEntries, gapBits: number, pointerBits: number): void {
  const hc = huffmanCode(entrySymbols(e, c.codes, 2 ** c.bits), 2 ** c.bits + 1);
  const hg = huffmanCode(e.field, 2 ** gapBits);
  checkLengths(name, hc.lengths);
  checkLengths(name, hg.lengths);
  writeLengths(w, hc.lengths);
  writeLengths(w, hg.lengths);
  for (const p of e.pointers) w.write(p, pointerBits);
  const filler = 2 ** c.bits;
  for (let k = 0; k < e.index.length; k++) {
    const s = e.index[k] < 0 ? filler : c.codes[e.index[k]];
    w.writeMsbFirst(hc.codes[s], hc.lengths[s]);
    w.writeMsbFirst(hg.codes[e.field[k]], hg.lengths[e.field[k]]);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Dense section of a coded tensor (float32 copied as little-endian bytes). */
function denseSection(name: string, c: Coded, values: Float32Array, huffman: boolean): { layout: LayoutSpec; section: Uint8Array } {
  if (c.values.type === "float32") return { layout: { type: "dense" }, section: rawBytes(values) };
  const w = new BitWriter();
  if (huffman) writeDenseHuffman(name, w, c);
  else writeDense(w, c);
  return { layout: { type: huffman ? "dense-huffman" : "dense" }, section: concat(c.params, w.finish()) };
}

/** CSR section of a coded tensor over the elements of `mask`. */
function csrSection(name: string, c: Coded, mask: ArrayLike<number>, rows: number, fixedGapBits: number, huffman: boolean): { layout: LayoutSpec; section: Uint8Array } {
  const w = new BitWriter();
  let gapBits = fixedGapBits;
  let e: CsrEntries;
  if (huffman) {
    let best = NaN;
    const channelRows = rows;
    for (const r of channelRows === 1 ? [1] : [channelRows, 1]) {
      for (let g = 1; g <= 16; g++) {
        const bits = csrHuffmanBits(c, mask, r, g);
        if (!(bits >= best)) [best, gapBits, rows] = [bits, g, r]; // per-channel rows, then the narrowest width, win ties, as in sparse-size.ts
      }
    }
    const span = 2 ** gapBits;
    e = csrEntries(mask, rows, span, span, span - 1);
  } else {
    const span = 2 ** gapBits;
    e = csrEntries(mask, rows, span - 1, span - 1, span - 1);
  }
  const pointerBits = pointerWidth(e.index.length);
  if (huffman) writeCsrHuffman(name, w, c, e, gapBits, pointerBits);
  else writeCsr(w, c, e, gapBits, pointerBits);
  const layout: LayoutSpec = { type: huffman ? "csr-huffman" : "csr", rows, entries: e.index.length, gapBits, pointerBits };
  return { layout, section: concat(c.params, w.finish()) };
}

/**
 * Encodes one weight (module comment says which encoding it gets).
 *
 * @param name weight name ("fc1/kernel"); its role picks the CSR rule
 * @param shape its shape
 * @param values its current float32 values (what loading must give back)
 * @param q its quantized form, if `%quantize` recorded one
 * @param opts huffman and sparse
 * @returns the table entry (offset/length 0 until assembled) and the section
 * @throws SlimlabError E_MODEL when `q` does not fit the weight
 * @example
 *   const { entry, section } = encodeTensor("fc1/kernel", [784, 300], w, q, { huffman: true, sparse: false });
 */
export function encodeTensor(name: string, shape: number[], values: Float32Array, q: QuantizedTensor | undefined, opts: EncodeOptions): EncodedTensor {
  const n = elementCount(shape);
  if (values.length !== n || (q !== undefined && (q.codes.length !== n || q.shape.join() !== shape.join()))) {
    throw new SlimlabError("E_MODEL", `saveSlim: weight ${name} has shape [${shape}] but its quantized form [${q?.shape ?? []}]; re-run quantize on the model`);
  }
  const c = codedOf(name, values, q);
  const huffman = opts.huffman && c.values.type !== "float32";
  let chosen: { layout: LayoutSpec; section: Uint8Array };
  if (q?.kept) {
    const l = sparseLayout(name, shape);
    chosen = csrSection(name, c, q.kept, elementCount(l.shape.slice(-l.rowAxes)), l.indexBits, huffman);
  } else {
    chosen = denseSection(name, c, values, huffman);
    const role = name.slice(name.lastIndexOf("/") + 1);
    const rule = shape.length >= 2 ? sparseRule(role, shape.length) : undefined;
    if (opts.sparse && rule !== undefined) {
      const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
      const mask = Uint8Array.from(bits, (b) => (b === 0 ? 0 : 1)); // +0 is not stored; −0 is
      if (mask.includes(0)) {
        const csr = csrSection(name, c, mask, elementCount(shape.slice(-rule.rowAxes)), rule.indexBits, huffman);
        if (csr.section.length < chosen.section.length) chosen = csr;
      }
    }
  }
  return { entry: { name, shape: [...shape], scheme: c.scheme, offset: 0, length: 0, values: c.values, layout: chosen.layout }, section: chosen.section };
}
