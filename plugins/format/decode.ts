/**
 * Decoding one tensor section of a .slim payload into float32 values.
 *
 * A section is the decoder parameters (byte-aligned: scales and zero
 * points, α, or a codebook; container.ts says which) followed by one bit
 * stream in the tensor's layout:
 *
 * - dense:          n codes of b bits
 * - dense-huffman:  a code-length table (huffman-table.ts), n coded symbols
 * - csr:            rows + 1 pointers of p bits, then per entry a b-bit code
 *                   and a g-bit gap field. Field f < 2^g − 1 is a stored
 *                   element f + 1 columns after the previous one in its row
 *                   (the first: after column −1); f = 2^g − 1 is a filler
 *                   that moves 2^g − 1 columns on and stores nothing (its
 *                   code field is 0).
 * - csr-huffman:    the code table (alphabet 2^b + 1, the last symbol being
 *                   the filler), the gap table (alphabet 2^g), the pointers,
 *                   then per entry a code symbol and a gap symbol g' — an
 *                   element g' + 1 columns on, or for the filler symbol a
 *                   move of 2^g columns (g' = 2^g − 1), as sparse-size.ts
 *                   counts it.
 *
 * Elements that no entry stores are +0. Only the output Float32Array is
 * float-sized; codes are decoded into integer arrays or straight into it.
 * Part of the decode core: typed arrays only, no Node built-ins.
 */
import { BitReader, unpack } from "./bits";
import { TensorEntry, ValuesSpec, channelCount, codeBits, elementCount, paramBytes } from "./container";
import { HuffmanDecoder } from "./huffman-table";

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

let HALF: Float32Array | undefined;

/** Every half-precision bit pattern's value (built once, 256 KB). */
function halfTable(): Float32Array {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    HALF[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m === 0 ? sign * Infinity : NaN) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return HALF;
}

/** Turns codes into values for one tensor. */
interface Mapper {
  /** Writes the value of element i (code `code`) into `out`. */
  put(out: Float32Array, i: number, code: number): void;
  /** Fills `out` from one code per element. */
  all(out: Float32Array, codes: Uint16Array): void;
}

function linearMapper(v: ValuesSpec & { type: "linear" }, shape: number[], params: Uint8Array): Mapper {
  const channels = channelCount(v, shape);
  const inner = v.axes === null ? elementCount(shape) : elementCount(shape.slice(v.axes[1]));
  const scale = new Float64Array(channels);
  const min = new Float64Array(channels);
  const d = new DataView(params.buffer, params.byteOffset, params.byteLength);
  for (let c = 0; c < channels; c++) {
    if (v.params === "scale-zero") {
      scale[c] = d.getFloat32(4 * c, true);
      min[c] = -d.getInt32(4 * (channels + c), true) * scale[c] || 0;
    } else if (v.params === "alpha") {
      scale[c] = (v.alphaScale as number) * d.getFloat32(4 * c, true);
      min[c] = -((v.alphaZero as number) * scale[c]);
    } else {
      scale[c] = d.getFloat64(8 * c, true);
      min[c] = d.getFloat64(8 * (channels + c), true);
    }
  }
  return {
    put(out, i, code) {
      const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
      out[i] = code * scale[c] + min[c];
    },
    all(out, codes) {
      const n = out.length;
      if (channels === 1) {
        const s = scale[0];
        const m = min[0];
        for (let i = 0; i < n; i++) out[i] = codes[i] * s + m;
      } else if (inner === 1) {
        for (let i = 0; i < n; ) for (let c = 0; c < channels; c++, i++) out[i] = codes[i] * scale[c] + min[c];
      } else {
        for (let i = 0; i < n; ) {
          for (let c = 0; c < channels; c++) {
            const s = scale[c];
            const m = min[c];
            for (const end = i + inner; i < end; i++) out[i] = codes[i] * s + m;
          }
        }
      }
    },
  };
}

function mapperOf(entry: TensorEntry, params: Uint8Array, r: BitReader): Mapper {
  const v = entry.values;
  if (v.type === "linear") return linearMapper(v, entry.shape, params);
  if (v.type === "codebook") {
    const d = new DataView(params.buffer, params.byteOffset, params.byteLength);
    const book = Float32Array.from({ length: v.size }, (_, k) => d.getFloat32(4 * k, true));
    const size = v.size;
    const bad = (code: number): never => r.fail(`code ${code} is beyond its codebook of ${size} entries`);
    return {
      put(out, i, code) {
        if (code >= size) bad(code);
        out[i] = book[code];
      },
      all(out, codes) {
        for (let i = 0; i < out.length; i++) {
          const code = codes[i];
          if (code >= size) bad(code);
          out[i] = book[code];
        }
      },
    };
  }
  if (v.type === "float16") {
    const half = halfTable();
    return {
      put(out, i, code) {
        out[i] = half[code];
      },
      all(out, codes) {
        for (let i = 0; i < out.length; i++) out[i] = half[codes[i]];
      },
    };
  }
  // float32: codes are bit patterns, copied bit for bit (NaN payloads included).
  let bits: Uint32Array | undefined;
  return {
    put(out, i, code) {
      bits ??= new Uint32Array(out.buffer, out.byteOffset, out.length);
      bits[i] = code;
    },
    all() {
      throw new Error("float32 codes are copied, not mapped");
    },
  };
}

/** Reads rows + 1 pointers and checks they run from 0 to `entries` without decreasing. */
function readPointers(r: BitReader, rows: number, entries: number, width: number): Float64Array {
  if ((rows + 1) * width > r.end - r.pos) r.fail(`${rows + 1} row pointers of ${width} bits cannot fit the ${r.end - r.pos} bits left`);
  const p = new Float64Array(rows + 1);
  for (let k = 0; k <= rows; k++) {
    p[k] = r.read(width);
    if (k > 0 && p[k] < p[k - 1]) r.fail(`row pointer ${k} (${p[k]}) is below the one before (${p[k - 1]})`);
  }
  if (p[0] !== 0 || p[rows] !== entries) r.fail(`row pointers run from ${p[0]} to ${p[rows]} instead of 0 to ${entries}`);
  return p;
}

function decodeDense(entry: TensorEntry, r: BitReader, map: Mapper, out: Float32Array): void {
  const n = out.length;
  if (entry.values.type === "float32") {
    const src = r.bytes.subarray(0, 4 * n);
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, 4 * n).set(src);
    else {
      const d = new DataView(src.buffer, src.byteOffset, src.byteLength);
      const bits = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = d.getUint32(4 * i, true);
    }
    r.pos = 32 * n;
    return;
  }
  const b = codeBits(entry.values);
  map.all(out, unpack(r.bytes, b, n));
  r.pos = n * b;
}

function decodeDenseHuffman(entry: TensorEntry, r: BitReader, map: Mapper, out: Float32Array): void {
  const n = out.length;
  const table = new HuffmanDecoder(r, 2 ** codeBits(entry.values));
  if (n > r.end - r.pos) r.fail(`${n} Huffman-coded codes cannot fit the ${r.end - r.pos} bits left`);
  const codes = new Uint16Array(n);
  table.decodeMany(r, codes);
  map.all(out, codes);
}

function decodeCsr(entry: TensorEntry, r: BitReader, map: Mapper, out: Float32Array): void {
  const l = entry.layout as TensorEntry["layout"] & { type: "csr" | "csr-huffman" };
  const rows = l.rows;
  const columns = out.length / rows;
  const b = codeBits(entry.values);
  const span = 2 ** l.gapBits;
  const huffman = l.type === "csr-huffman";
  const filler = 2 ** b; // the filler symbol of csr-huffman's code alphabet
  const codeTable = huffman ? new HuffmanDecoder(r, filler + 1) : undefined;
  const gapTable = huffman ? new HuffmanDecoder(r, span) : undefined;
  const ptr = readPointers(r, rows, l.entries, l.pointerBits);
  if (huffman && 2 * l.entries > r.end - r.pos) r.fail(`${l.entries} Huffman-coded entries cannot fit the ${r.end - r.pos} bits left`);
  for (let row = 0; row < rows; row++) {
    let col = -1;
    for (let e = ptr[row]; e < ptr[row + 1]; e++) {
      let code: number;
      let gap: number;
      if (codeTable && gapTable) {
        code = codeTable.decode(r);
        gap = gapTable.decode(r);
        if (code === filler) {
          if (gap !== span - 1) r.fail(`a filler entry in row ${row} has gap symbol ${gap} instead of ${span - 1}`);
          col += span;
          continue;
        }
      } else {
        code = r.read(b);
        gap = r.read(l.gapBits);
        if (gap === span - 1) {
          if (code !== 0) r.fail(`a filler entry in row ${row} has code ${code} instead of 0`);
          col += span - 1;
          continue;
        }
      }
      col += gap + 1;
      if (col >= columns) r.fail(`an entry of row ${row} lands in column ${col}, past the ${columns} columns`);
      map.put(out, col * rows + row, code);
    }
  }
}

/**
 * Decodes one tensor of a parsed file.
 *
 * @param entry its table entry (checked by parseSlim)
 * @param payload the file's payload
 * @param label the file, for messages
 * @returns its values, row-major, a new Float32Array
 * @throws SlimlabError E_FILE when the section's contents do not decode
 *   (a stream that ends early or has bytes left over, a code outside its
 *   codebook or Huffman table, pointers or gaps that leave the tensor)
 * @example
 *   const f = parseSlim(bytes, "m.slim");
 *   const w = decodeTensor(f.header.tensors[0], f.payload, "m.slim");
 */
export function decodeTensor(entry: TensorEntry, payload: Uint8Array, label: string): Float32Array {
  const section = payload.subarray(entry.offset, entry.offset + entry.length);
  const pb = paramBytes(entry.values, entry.shape);
  const stream = section.subarray(pb);
  const r = new BitReader(stream, label, entry.name);
  const map = mapperOf(entry, section.subarray(0, pb), r);
  let out: Float32Array;
  try {
    out = new Float32Array(elementCount(entry.shape));
  } catch {
    return r.fail(`${elementCount(entry.shape)} elements are more than this machine can allocate`);
  }
  const kind = entry.layout.type;
  if (kind === "dense") decodeDense(entry, r, map, out);
  else if (kind === "dense-huffman") decodeDenseHuffman(entry, r, map, out);
  else decodeCsr(entry, r, map, out);
  const used = Math.ceil(r.pos / 8);
  if (used !== stream.length) r.fail(`the section has ${stream.length - used} bytes after its encoded data`);
  return out;
}
