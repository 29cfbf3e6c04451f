/**
 * The .slim container: a 32-byte preamble, a JSON header, the payload.
 * docs/slim-format.md describes every byte; in short (little-endian):
 *
 *    0   8  magic 89 53 4C 49 4D 0D 0A 1A ("\x89SLIM\r\n\x1a")
 *    8   2  major version      10  2  minor version
 *   12   4  header length H    16  8  payload length P (low, high word)
 *   24   4  CRC-32 of the payload
 *   28   4  CRC-32 of bytes 0–27 followed by the header
 *   32   H  header: UTF-8 JSON {modelTopology, tensors: [...], ...}, as is
 *              (first byte "{") or zlib-compressed (RFC 1950; version 1.1)
 * 32+H   P  payload: one section per tensor, in table order, no gaps
 *
 * Everything here is checked before anything is decoded: magic, version,
 * lengths, both checksums, and every field of the tensor table, so a
 * damaged or foreign file ends in one E_FILE error naming the problem.
 *
 * Part of the decode core: no imports besides the error class and fflate
 * (plain JS inflate/deflate), no Node built-ins (TextEncoder/TextDecoder
 * are globals in browsers and Node).
 */
import { Unzlib, zlibSync } from "fflate";
import { SlimlabError, show } from "../core/errors";
import { crc32 } from "./crc32";
import { HEADER_DICTIONARY, HEADER_DICTIONARY_ID } from "./header-dictionary";

export const MAGIC = Uint8Array.of(0x89, 0x53, 0x4c, 0x49, 0x4d, 0x0d, 0x0a, 0x1a);
/** The version this code writes; it reads every minor version of the same major. */
export const VERSION = { major: 1, minor: 1 } as const;
export const PREAMBLE_BYTES = 32;
/** Largest element count of one tensor (the largest Float32Array index range we allocate). */
export const MAX_ELEMENTS = 2 ** 31 - 1;
/** Largest header a reader inflates (a damaged or hostile zlib stream could expand without end). */
export const MAX_HEADER_BYTES = 64 * 2 ** 20;

/** How the stored codes become float32 values. */
export type ValuesSpec =
  /** The float32 bit pattern itself (32 bits). */
  | { type: "float32" }
  /** IEEE half-precision bit patterns (16 bits), widened exactly. */
  | { type: "float16" }
  /**
   * value = fround(code·S[c] + M[c]) in double arithmetic; c is the channel:
   * the element's index over the axes [axes[0], axes[1]) flattened (one
   * channel when axes is null). Per channel the payload holds
   * - "scale-zero": float32 S, int32 Z; M = −(Z·S), a −0 made +0;
   * - "alpha": float32 α; S = alphaScale·α, M = −(alphaZero·S);
   * - "scale-min": float64 S, float64 M.
   */
  | { type: "linear"; bits: number; axes: [number, number] | null; params: "scale-zero" | "alpha" | "scale-min"; alphaScale?: number; alphaZero?: number }
  /** value = codebook[code]; the payload holds `size` float32 entries. */
  | { type: "codebook"; bits: number; size: number };

/** Where the codes sit. */
export type LayoutSpec =
  /** One code per element, in row-major order. */
  | { type: "dense" }
  /** The same codes, canonical-Huffman coded. */
  | { type: "dense-huffman" }
  /**
   * Relative-index compressed sparse rows (Deep Compression): element i sits
   * in row i mod rows, column ⌊i / rows⌋; only stored entries carry a code.
   */
  | { type: "csr" | "csr-huffman"; rows: number; entries: number; gapBits: number; pointerBits: number };

/** One tensor of the table. */
export interface TensorEntry {
  /** The weight's name in the topology ("fc1/kernel"). */
  name: string;
  shape: number[];
  /** How it was quantized (informational): "kmeans", "affine", ..., or "none". */
  scheme: string;
  /** Byte offset of its section in the payload, and the section's length. */
  offset: number;
  length: number;
  values: ValuesSpec;
  layout: LayoutSpec;
}

/** The JSON header. */
export interface SlimHeader {
  /** What model.json's "modelTopology" holds. */
  modelTopology: unknown;
  trainingConfig?: unknown;
  userDefinedMetadata?: unknown;
  /** Name and version of the writer (informational). */
  generator?: string;
  tensors: TensorEntry[];
}

/** A parsed file. */
export interface SlimFile {
  version: { major: number; minor: number };
  header: SlimHeader;
  /** The payload bytes (a view into the file). */
  payload: Uint8Array;
  /** Preamble + header bytes, as stored (compressed when the file's header is). */
  headerBytes: number;
}

/** Elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bits per stored code of a values spec. */
export function codeBits(v: ValuesSpec): number {
  return v.type === "float32" ? 32 : v.type === "float16" ? 16 : v.bits;
}

/** Number of scale groups of a linear spec. */
export function channelCount(v: ValuesSpec & { type: "linear" }, shape: readonly number[]): number {
  return v.axes === null ? 1 : elementCount(shape.slice(v.axes[0], v.axes[1]));
}

/** Bytes of the decoder parameters at the start of a section. */
export function paramBytes(v: ValuesSpec, shape: readonly number[]): number {
  if (v.type === "codebook") return 4 * v.size;
  if (v.type !== "linear") return 0;
  const per = v.params === "scale-zero" ? 8 : v.params === "alpha" ? 4 : 16;
  return per * channelCount(v, shape);
}

/** Bits of a fixed-width layout's stream (NaN for the Huffman layouts, whose length is data-dependent). */
export function fixedStreamBits(e: Pick<TensorEntry, "shape" | "values" | "layout">): number {
  const w = codeBits(e.values);
  const l = e.layout;
  if (l.type === "dense") return elementCount(e.shape) * w;
  if (l.type === "csr") return (l.rows + 1) * l.pointerBits + l.entries * (w + l.gapBits);
  return NaN;
}

/**
 * Puts a file together: preamble, header (tensor offsets and lengths filled
 * in from the sections), payload, both checksums.
 *
 * @param header the header; its tensors' offset/length are overwritten
 * @param sections one section per tensor, in table order
 * @returns the file's bytes and the header's size (preamble included)
 * @example
 *   const { bytes } = assembleSlim({ modelTopology, tensors }, sections);
 */
export function assembleSlim(header: SlimHeader, sections: readonly Uint8Array[]): { bytes: Uint8Array; headerBytes: number } {
  let offset = 0;
  header.tensors.forEach((t, i) => {
    t.offset = offset;
    t.length = sections[i].length;
    offset += t.length;
  });
  const json = packHeader(header);
  const bytes = new Uint8Array(PREAMBLE_BYTES + json.length + offset);
  bytes.set(MAGIC, 0);
  const view = new DataView(bytes.buffer);
  view.setUint16(8, VERSION.major, true);
  view.setUint16(10, VERSION.minor, true);
  view.setUint32(12, json.length, true);
  view.setUint32(16, offset % 2 ** 32, true);
  view.setUint32(20, Math.floor(offset / 2 ** 32), true);
  bytes.set(json, PREAMBLE_BYTES);
  let at = PREAMBLE_BYTES + json.length;
  for (const s of sections) {
    bytes.set(s, at);
    at += s.length;
  }
  view.setUint32(24, crc32(bytes.subarray(PREAMBLE_BYTES + json.length)), true);
  view.setUint32(28, crc32(json, crc32(bytes.subarray(0, 28))), true);
  return { bytes, headerBytes: PREAMBLE_BYTES + json.length };
}

/**
 * The header as stored: its JSON compressed with zlib (RFC 1950, level 9,
 * with the preset dictionary of header-dictionary.ts) when that is
 * shorter, else the JSON itself. The two cannot be confused: JSON starts
 * with "{" (0x7B), a zlib stream with a byte whose low four bits are 8
 * (deflate).
 */
export function packHeader(header: SlimHeader): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const packed = zlibSync(json, { level: 9, dictionary: HEADER_DICTIONARY });
  return packed.length < json.length ? packed : json;
}

/** The JSON bytes of a stored header (inflated when it is zlib), or a problem. */
function unpackHeader(stored: Uint8Array): Uint8Array | string {
  if (stored.length === 0 || stored[0] === 0x7b) return stored;
  if ((stored[0] & 0x0f) !== 8 || stored.length < 2 || (stored[0] * 256 + stored[1]) % 31 !== 0) {
    return `has a header that is neither JSON nor zlib-compressed JSON (it starts with ${hex(stored.subarray(0, 2))})`;
  }
  const withDictionary = (stored[1] & 0x20) !== 0; // FDICT: a preset dictionary, named by its Adler-32
  if (withDictionary) {
    const id = stored.length < 6 ? NaN : new DataView(stored.buffer, stored.byteOffset + 2, 4).getUint32(0, false);
    if (id !== HEADER_DICTIONARY_ID) {
      return `has a header compressed with an unknown preset dictionary (Adler-32 ${Number.isNaN(id) ? "cut off" : id.toString(16).padStart(8, "0")}; this slimlab knows ${HEADER_DICTIONARY_ID.toString(16)})`;
    }
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const inflater = new Unzlib(withDictionary ? { dictionary: HEADER_DICTIONARY } : {}, (chunk, final) => {
    total += chunk.length;
    if (total > MAX_HEADER_BYTES) throw new RangeError(`it inflates to more than ${MAX_HEADER_BYTES} bytes`);
    chunks.push(chunk);
    ended = final;
  });
  try {
    inflater.push(stored, true);
  } catch (e) {
    return `has a compressed header that does not inflate (${(e as Error).message})`;
  }
  if (!ended) return "has a compressed header that ends early";
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Checks and splits a .slim file (module comment): magic, version, lengths,
 * header checksum, JSON, tensor table, payload checksum.
 *
 * @param bytes the whole file
 * @param label the file's path or URL, for messages
 * @returns version, header and payload
 * @throws SlimlabError E_FILE naming the file and the problem
 * @example
 *   const f = parseSlim(await fs.readFile("m.slim"), "m.slim");
 *   f.header.tensors.map((t) => t.name);
 */
export function parseSlim(bytes: Uint8Array, label: string): SlimFile {
  const fail = (problem: string, fix = "re-save it"): never => {
    throw new SlimlabError("E_FILE", `loadSlim: ${label} ${problem}; ${fix}`);
  };
  if (bytes.length === 0) fail("is empty, not a .slim file", "pass a file written by saveSlim");
  const head = bytes.subarray(0, MAGIC.length);
  if (!head.every((b, i) => b === MAGIC[i])) fail(`is not a .slim file (it starts with ${hex(head)}, a .slim file with ${hex(MAGIC)})`, "pass a file written by saveSlim");
  if (bytes.length < PREAMBLE_BYTES) fail(`is truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE_BYTES}-byte preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = view.getUint16(8, true);
  const minor = view.getUint16(10, true);
  if (major !== VERSION.major) {
    fail(`is .slim version ${major}.${minor}, but this slimlab reads version ${VERSION.major}.x`, major > VERSION.major ? "update slimlab to read it" : "re-save it with this slimlab");
  }
  const headerLength = view.getUint32(12, true);
  const payloadLength = view.getUint32(16, true) + view.getUint32(20, true) * 2 ** 32;
  const total = PREAMBLE_BYTES + headerLength + payloadLength;
  if (bytes.length < total) fail(`is truncated: ${bytes.length} bytes, but its preamble describes ${total}`);
  if (bytes.length > total) fail(`has ${bytes.length - total} bytes after the end its preamble describes (${total} bytes)`);
  const json = bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength);
  const headerCrc = crc32(json, crc32(bytes.subarray(0, 28)));
  if (headerCrc !== view.getUint32(28, true)) fail(`has a damaged header (CRC-32 ${headerCrc.toString(16)} instead of the stored ${view.getUint32(28, true).toString(16)})`);
  const unpacked = unpackHeader(json);
  if (typeof unpacked === "string") return fail(unpacked);
  let header: SlimHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(unpacked)) as SlimHeader;
  } catch (e) {
    return fail(`has a header that is not UTF-8 JSON (${(e as Error).message})`);
  }
  const payload = bytes.subarray(PREAMBLE_BYTES + headerLength, total);
  checkHeader(header, payloadLength, (problem) => fail(`has an invalid header: ${problem}`));
  const payloadCrc = crc32(payload);
  if (payloadCrc !== view.getUint32(24, true)) fail(`has a damaged payload (CRC-32 ${payloadCrc.toString(16)} instead of the stored ${view.getUint32(24, true).toString(16)})`);
  return { version: { major, minor }, header, payload, headerBytes: PREAMBLE_BYTES + headerLength };
}

const isInt = (x: unknown, lo: number, hi: number): x is number => typeof x === "number" && Number.isInteger(x) && x >= lo && x <= hi;

/** Checks every field of the header a decoder relies on; calls `fail` with the first problem. */
function checkHeader(h: SlimHeader, payloadLength: number, fail: (problem: string) => never): void {
  if (typeof h !== "object" || h === null || Array.isArray(h)) fail(`expected a JSON object, found ${show(h)}`);
  if (typeof h.modelTopology !== "object" || h.modelTopology === null) fail("no modelTopology object");
  if (!Array.isArray(h.tensors)) fail("no tensors array");
  const names = new Set<string>();
  let offset = 0;
  h.tensors.forEach((t, k) => {
    const where = `tensor ${k}${typeof t?.name === "string" ? ` (${t.name})` : ""}`;
    const bad = (problem: string): never => fail(`${where}: ${problem}`);
    if (typeof t !== "object" || t === null) bad("not an object");
    if (typeof t.name !== "string" || t.name === "") bad(`name ${show(t.name)} is not a non-empty string`);
    if (names.has(t.name)) bad("its name appears twice");
    names.add(t.name);
    if (typeof t.scheme !== "string") bad(`scheme ${show(t.scheme)} is not a string`);
    if (!Array.isArray(t.shape) || t.shape.length > 8 || !t.shape.every((d) => isInt(d, 0, MAX_ELEMENTS))) bad(`shape ${show(t.shape)} is not a list of at most 8 sizes`);
    const n = elementCount(t.shape);
    if (n > MAX_ELEMENTS) bad(`${n} elements, more than the ${MAX_ELEMENTS} one tensor may hold`);
    if (t.offset !== offset) bad(`offset ${show(t.offset)} should be ${offset} (sections follow each other)`);
    if (!isInt(t.length, 0, payloadLength - offset)) bad(`length ${show(t.length)} runs past the payload's ${payloadLength} bytes`);
    offset += t.length;
    checkValues(t.values, t.shape, bad);
    checkLayout(t.layout, t.values, n, bad);
    const params = paramBytes(t.values, t.shape);
    const stream = fixedStreamBits(t);
    if (Number.isNaN(stream) ? t.length < params : t.length !== params + Math.ceil(stream / 8)) {
      bad(`section of ${t.length} bytes, but its encoding needs ${Number.isNaN(stream) ? `at least ${params}` : params + Math.ceil(stream / 8)}`);
    }
  });
  if (offset !== payloadLength) fail(`the tensor sections cover ${offset} bytes of the ${payloadLength}-byte payload`);
}

function checkValues(v: ValuesSpec, shape: number[], bad: (p: string) => never): void {
  if (typeof v !== "object" || v === null) bad(`values ${show(v)} is not an object`);
  if (v.type === "float32" || v.type === "float16") return;
  if (v.type === "codebook") {
    if (!isInt(v.bits, 1, 16)) bad(`codebook bits ${show(v.bits)} outside 1–16`);
    if (!isInt(v.size, 1, 2 ** v.bits)) bad(`codebook size ${show(v.size)} outside 1–${2 ** v.bits}`);
    return;
  }
  if (v.type !== "linear") bad(`values type ${show((v as { type?: unknown }).type)} is not float32, float16, linear or codebook (a newer .slim version?)`);
  if (!isInt(v.bits, 1, 16)) bad(`linear bits ${show(v.bits)} outside 1–16`);
  const axes = v.axes;
  if (axes !== null && !(Array.isArray(axes) && axes.length === 2 && isInt(axes[0], 0, shape.length - 1) && isInt(axes[1], axes[0] + 1, shape.length))) {
    bad(`channel axes ${show(axes)} are not null or [first, end) within rank ${shape.length}`);
  }
  if (!["scale-zero", "alpha", "scale-min"].includes(v.params)) bad(`linear params ${show(v.params)} are not scale-zero, alpha or scale-min`);
  if (v.params === "alpha" && !(Number.isFinite(v.alphaScale) && Number.isFinite(v.alphaZero))) bad("alpha params without finite alphaScale and alphaZero");
}

function checkLayout(l: LayoutSpec, v: ValuesSpec, n: number, bad: (p: string) => never): void {
  if (typeof l !== "object" || l === null) bad(`layout ${show(l)} is not an object`);
  const huffman = l.type === "dense-huffman" || l.type === "csr-huffman";
  if (huffman && v.type === "float32") bad("float32 values cannot be Huffman-coded");
  if (l.type === "dense" || l.type === "dense-huffman") return;
  if (l.type !== "csr" && l.type !== "csr-huffman") bad(`layout type ${show((l as { type?: unknown }).type)} is not dense, dense-huffman, csr or csr-huffman (a newer .slim version?)`);
  if (!isInt(l.rows, 1, Math.max(1, n)) || n % l.rows !== 0) bad(`${show(l.rows)} rows do not divide ${n} elements`);
  if (!isInt(l.gapBits, 1, 16)) bad(`gap width ${show(l.gapBits)} outside 1–16`);
  if (!isInt(l.pointerBits, 1, 32)) bad(`pointer width ${show(l.pointerBits)} outside 1–32`);
  if (!isInt(l.entries, 0, 2 ** l.pointerBits - 1)) bad(`${show(l.entries)} entries cannot be addressed by ${l.pointerBits}-bit pointers`);
}
