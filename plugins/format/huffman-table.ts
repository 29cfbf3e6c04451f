/**
 * Canonical Huffman codes in a .slim bit stream: how a code-length table
 * is written, and a table-driven decoder.
 *
 * A code is fully described by one length per symbol (RFC 1951 §3.2.2:
 * codes are assigned in order of length, then of symbol). Only the used
 * symbols are written:
 *
 *   gamma(U + 1)                     U = number of used symbols
 *   U times: gamma(s − s_prev)       s_prev of the first is −1
 *            5 bits: length − 1      lengths 1–32
 *
 * (gamma = Elias gamma, bits.ts). Code bits are written most significant
 * first, each at the next stream position. A code must be complete (Kraft
 * sum exactly 1), except that a single used symbol has the one-bit code 0,
 * as quantize/huffman.ts assigns it.
 *
 * Part of the decode core: no imports besides bits.ts and the error class.
 */
import { BitReader, BitWriter } from "./bits";

/** Longest code length a table may hold. */
export const MAX_CODE_LENGTH = 32;
/** Bits resolved by one table lookup; longer codes take the bit-by-bit path. */
const FAST_BITS = 11;

/**
 * Writes a code-length table (module comment).
 *
 * @param w the stream
 * @param lengths code length per symbol, 0 for unused symbols
 * @example
 *   writeLengths(w, new Uint8Array([1, 0, 2, 2])); // U = 3: symbols 0, 2, 3
 */
export function writeLengths(w: BitWriter, lengths: ArrayLike<number>): void {
  let used = 0;
  for (let s = 0; s < lengths.length; s++) if (lengths[s] > 0) used++;
  w.gamma(used + 1);
  let prev = -1;
  for (let s = 0; s < lengths.length; s++) {
    if (lengths[s] === 0) continue;
    w.gamma(s - prev);
    w.write(lengths[s] - 1, 5);
    prev = s;
  }
}

/** A decoder for one canonical code. */
export class HuffmanDecoder {
  /** FAST_BITS-bit lookup: symbol·64 + length, or 0 where the code is longer (or absent). */
  private readonly table: Int32Array;
  private readonly fastBits: number;
  /** Per length: first canonical code, index of its first symbol in `sorted`, and how many. */
  private readonly first: Float64Array;
  private readonly start: Int32Array;
  private readonly count: Int32Array;
  private readonly sorted: Int32Array;
  readonly maxLength: number;
  /** Number of used symbols. */
  readonly used: number;

  /**
   * Reads a code-length table from `r` and builds the decoder.
   *
   * @param r the stream, at the table
   * @param alphabet number of possible symbols; a symbol beyond it is corrupt
   * @throws SlimlabError E_FILE for a symbol outside the alphabet, a length
   *   outside 1–32, or lengths that do not form a complete prefix code
   */
  constructor(r: BitReader, alphabet: number) {
    const used = r.gamma() - 1;
    if (used > alphabet) r.fail(`the Huffman table lists ${used} symbols but the alphabet has ${alphabet}`);
    const symbols = new Int32Array(used);
    const lengths = new Int32Array(used);
    let prev = -1;
    let maxLength = 0;
    let kraft = 0;
    for (let k = 0; k < used; k++) {
      const s = prev + r.gamma();
      if (s >= alphabet) r.fail(`the Huffman table names symbol ${s} but the alphabet has ${alphabet}`);
      const len = r.read(5) + 1;
      symbols[k] = s;
      lengths[k] = len;
      maxLength = Math.max(maxLength, len);
      kraft += 2 ** -len;
      prev = s;
    }
    if (used > 1 && kraft !== 1) r.fail(`the Huffman code lengths do not form a complete prefix code (Kraft sum ${kraft})`);
    if (used === 1 && lengths[0] !== 1) r.fail(`a single-symbol Huffman code must have length 1, not ${lengths[0]}`);
    this.used = used;
    this.maxLength = maxLength;
    this.count = new Int32Array(maxLength + 1);
    for (let k = 0; k < used; k++) this.count[lengths[k]]++;
    this.start = new Int32Array(maxLength + 2);
    for (let l = 1; l <= maxLength; l++) this.start[l + 1] = this.start[l] + this.count[l];
    this.first = new Float64Array(maxLength + 1);
    let code = 0;
    for (let l = 1; l <= maxLength; l++) {
      code = (code + this.count[l - 1]) * 2;
      this.first[l] = code;
    }
    // Symbols in canonical order: by length, then by symbol (they are read in symbol order).
    this.sorted = new Int32Array(used);
    const fill = this.start.slice();
    for (let k = 0; k < used; k++) this.sorted[fill[lengths[k]]++] = symbols[k];
    this.fastBits = Math.max(1, Math.min(FAST_BITS, maxLength));
    this.table = new Int32Array(1 << this.fastBits);
    const next = this.first.slice();
    for (let k = 0; k < used; k++) {
      const len = lengths[k];
      const c = next[len]++;
      if (len > this.fastBits) continue;
      // The stream holds the code's bits most significant first from the low end: index by the reversed code.
      let rev = 0;
      for (let b = 0; b < len; b++) rev = (rev << 1) | ((c >>> b) & 1);
      for (let hi = 0; hi < 1 << (this.fastBits - len); hi++) this.table[rev | (hi << len)] = symbols[k] * 64 + len;
    }
  }

  /**
   * Decodes one symbol.
   *
   * @param r the stream
   * @returns the symbol
   * @throws SlimlabError E_FILE when the bits match no code or the stream ends
   */
  decode(r: BitReader): number {
    const e = this.table[r.peek25() & ((1 << this.fastBits) - 1)];
    if (e !== 0) {
      const len = e & 63;
      if (r.pos + len > r.end) r.fail(`the bit stream ends at bit ${r.end} inside a Huffman code`);
      r.pos += len;
      return e >>> 6;
    }
    return this.slow(r);
  }

  /**
   * Decodes `out.length` symbols into `out`: decode() in one loop over
   * local variables (about 3× faster for long dense streams).
   *
   * @param r the stream
   * @param out where the symbols go
   * @throws SlimlabError E_FILE when the bits match no code or the stream ends
   */
  decodeMany(r: BitReader, out: Uint16Array): void {
    const table = this.table;
    const mask = (1 << this.fastBits) - 1;
    const b = r.bytes;
    const n = out.length;
    let pos = r.pos;
    for (let i = 0; i < n; i++) {
      const k = pos >>> 3;
      // Three bytes hold at least 17 bits from `pos`, more than the 11 a lookup needs.
      const e = table[((b[k] | (b[k + 1] << 8) | (b[k + 2] << 16)) >>> (pos & 7)) & mask];
      if (e !== 0) {
        pos += e & 63;
        out[i] = e >>> 6;
      } else {
        r.pos = pos;
        out[i] = this.slow(r);
        pos = r.pos;
      }
    }
    if (pos > r.end) r.fail(`the bit stream ends at bit ${r.end} inside a Huffman code`);
    r.pos = pos;
  }

  /** Bit-by-bit canonical decoding, for codes longer than the lookup table. */
  private slow(r: BitReader): number {
    if (this.used === 0) r.fail("a Huffman-coded stream has symbols but its table is empty");
    let code = 0;
    for (let len = 1; len <= this.maxLength; len++) {
      code = code * 2 + r.read(1);
      const k = code - this.first[len];
      if (k >= 0 && k < this.count[len]) return this.sorted[this.start[len] + k];
    }
    return r.fail("bits that match no Huffman code");
  }
}
