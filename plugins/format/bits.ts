/**
 * Bit streams of the .slim format: values are packed least significant bit
 * first, the first bit of a stream in bit 0 of its first byte (the order of
 * DEFLATE and of export.ts' packCodes). A value of n bits written at bit
 * position p occupies bits p … p + n − 1, its bit k at position p + k.
 *
 * Part of the decode core: no imports besides the error class, no Node
 * built-ins, plain typed arrays, so a browser can load it as is.
 */
import { SlimlabError } from "../core/errors";

/** A growable stream that packs values LSB first. */
export class BitWriter {
  private buf = new Uint8Array(1024);
  private at = 0; // whole bytes written
  private acc = 0; // pending bits (fewer than 8 between calls)
  private fill = 0;

  /** Bits written so far. */
  get bitLength(): number {
    return this.at * 8 + this.fill;
  }

  private grow(need: number): void {
    if (this.at + need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + need + 1024));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  /**
   * Appends the low `n` bits of `value`.
   *
   * @param value a non-negative integer below 2^n
   * @param n 0–32 bits
   * @example
   *   w.write(5, 3); // bits 1, 0, 1
   */
  write(value: number, n: number): void {
    if (n > 24) {
      this.write(value & 0xffff, 16);
      this.write(Math.floor(value / 65536), n - 16);
      return;
    }
    this.grow(4);
    let acc = (this.acc | (value << this.fill)) >>> 0;
    let fill = this.fill + n;
    while (fill >= 8) {
      this.buf[this.at++] = acc & 0xff;
      acc >>>= 8;
      fill -= 8;
    }
    this.acc = acc;
    this.fill = fill;
  }

  /**
   * Appends `value` in Elias gamma code: ⌊log2 value⌋ zero bits, then the
   * value's bits from the most significant down (so a reader counts zeros
   * up to the leading 1).
   *
   * @param value an integer ≥ 1 below 2^32
   * @example
   *   w.gamma(1); // one bit: 1
   *   w.gamma(5); // 0, 0, 1, 0, 1
   */
  gamma(value: number): void {
    const top = 31 - Math.clz32(value);
    this.write(0, top);
    for (let k = top; k >= 0; k--) this.write(Math.floor(value / 2 ** k) & 1, 1);
  }

  /** Appends the `n` bits of `code` (n ≤ 32) most significant first, the order a canonical Huffman code is read in. */
  writeMsbFirst(code: number, n: number): void {
    if (n > 24) {
      for (let k = n - 1; k >= 0; k--) this.write(Math.floor(code / 2 ** k) & 1, 1);
      return;
    }
    let reversed = 0;
    for (let k = 0; k < n; k++) reversed = (reversed << 1) | ((code >>> k) & 1);
    this.write(reversed, n);
  }

  /** The bytes written, the last one zero-padded. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.at + (this.fill > 0 ? 1 : 0));
    out.set(this.buf.subarray(0, this.at));
    if (this.fill > 0) out[this.at] = this.acc & 0xff;
    return out;
  }
}

/**
 * Reads a bit stream written by BitWriter. Reads past `end` fail with
 * E_FILE, so a corrupt length can never make a decoder run on.
 */
export class BitReader {
  /** Next bit to read, counted from the start of `bytes`. */
  pos: number;

  /**
   * @param bytes the stream's bytes
   * @param label the file, for messages
   * @param what the part being read, for messages ("fc1/kernel")
   * @param end bit length of the stream (default: all of `bytes`)
   */
  constructor(readonly bytes: Uint8Array, readonly label: string, readonly what: string, readonly end = bytes.length * 8) {
    this.pos = 0;
  }

  /** Throws the reader's E_FILE error. */
  fail(problem: string): never {
    throw new SlimlabError("E_FILE", `loadSlim: ${this.label}: ${this.what}: ${problem}; the file is corrupt, re-save it`);
  }

  /** The 25 bits starting at `pos` (zeros past the end of the bytes), low bit first. */
  peek25(): number {
    const b = this.bytes;
    const i = this.pos >>> 3;
    return ((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> (this.pos & 7)) & 0x1ffffff;
  }

  /**
   * Reads an n-bit value.
   *
   * @param n 0–32
   * @returns the value
   * @throws SlimlabError E_FILE when the stream ends first
   */
  read(n: number): number {
    if (this.pos + n > this.end) this.fail(`the bit stream ends at bit ${this.end} but a ${n}-bit field starts at bit ${this.pos}`);
    if (n > 24) {
      const lo = this.read(16);
      return lo + this.read(n - 16) * 65536;
    }
    const v = this.peek25() & ((1 << n) - 1);
    this.pos += n;
    return v;
  }

  /**
   * Reads an Elias gamma value (see BitWriter.gamma).
   *
   * @returns an integer ≥ 1
   * @throws SlimlabError E_FILE for more than 31 leading zeros or a stream that ends
   */
  gamma(): number {
    let zeros = 0;
    while (this.read(1) === 0) if (++zeros > 31) this.fail("an Elias-gamma number has more than 31 leading zeros");
    let v = 1;
    for (let k = 0; k < zeros; k++) v = v * 2 + this.read(1);
    return v;
  }
}

/**
 * Unpacks `n` values of `bits` bits each (1–16) from `bytes`, starting at
 * bit 0, into a Uint16Array. Byte- and half-word-sized codes are copied
 * directly; other widths run through a 32-bit accumulator.
 *
 * @param bytes packed values
 * @param bits width, 1–16
 * @param n how many
 * @returns the values
 * @example
 *   unpack(new Uint8Array([0b11100100]), 2, 4); // [0, 1, 2, 3]
 */
export function unpack(bytes: Uint8Array, bits: number, n: number): Uint16Array {
  const out = new Uint16Array(n);
  if (bits === 8) {
    out.set(bytes.subarray(0, n));
    return out;
  }
  if (bits === 16) {
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = bytes[j] | (bytes[j + 1] << 8);
    return out;
  }
  const mask = (1 << bits) - 1;
  let acc = 0;
  let fill = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    while (fill < bits) {
      acc |= bytes[j++] << fill;
      fill += 8;
    }
    out[i] = acc & mask;
    acc >>>= bits;
    fill -= bits;
  }
  return out;
}
