/** Test helpers that write small IDX files. */

/** Builds an IDX file: magic, big-endian sizes, then the given payload bytes. */
export function idxBytes(dtypeByte: number, shape: number[], payload: Uint8Array): Uint8Array {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = dtypeByte;
  header[3] = shape.length;
  shape.forEach((s, i) => header.writeUInt32BE(s, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(payload)]);
}
