import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { parseIdx, readIdxFile } from "../../../plugins/data/idx";
import { defaultMnistDir } from "../../../plugins/data/mnist";
import { idxBytes } from "./idx-fixtures";

describe("data/idx", () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-idx-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("reads the real MNIST test labels: shape, dtype and the first values", () => {
    const file = path.join(defaultMnistDir(), "t10k-labels-idx1-ubyte");
    const labels = readIdxFile(file);
    assert.equal(labels.dtype, "uint8");
    assert.deepEqual(labels.shape, [10000]);
    // The first values, read straight from the bytes after the 8-byte header.
    const raw = fs.readFileSync(file);
    assert.deepEqual([...labels.data.slice(0, 5)], [...raw.subarray(8, 13)]);
    assert.deepEqual([...labels.data.slice(0, 5)], [7, 2, 1, 0, 4]);
  });

  it("reads the real MNIST training images header", () => {
    const images = readIdxFile(path.join(defaultMnistDir(), "train-images-idx3-ubyte"));
    assert.deepEqual(images.shape, [60000, 28, 28]);
    assert.equal(images.data.length, 60000 * 784);
  });

  it("decodes big-endian int16, int32, float32 and float64 values", () => {
    const be = (n: number, write: (b: Buffer, v: number, o: number) => void, values: number[]): Uint8Array => {
      const b = Buffer.alloc(n * values.length);
      values.forEach((v, i) => write(b, v, n * i));
      return b;
    };
    const i16 = parseIdx(idxBytes(0x0b, [3], be(2, (b, v, o) => b.writeInt16BE(v, o), [-2, 300, 32767])), "i16");
    assert.equal(i16.dtype, "int16");
    assert.deepEqual([...i16.data], [-2, 300, 32767]);
    const i32 = parseIdx(idxBytes(0x0c, [2, 1], be(4, (b, v, o) => b.writeInt32BE(v, o), [-70000, 123456789])), "i32");
    assert.deepEqual([...i32.data], [-70000, 123456789]);
    assert.deepEqual(i32.shape, [2, 1]);
    const f32 = parseIdx(idxBytes(0x0d, [2], be(4, (b, v, o) => b.writeFloatBE(v, o), [1.5, -0.25])), "f32");
    assert.deepEqual([...f32.data], [1.5, -0.25]);
    const f64 = parseIdx(idxBytes(0x0e, [1], be(8, (b, v, o) => b.writeDoubleBE(v, o), [Math.PI])), "f64");
    assert.deepEqual([...f64.data], [Math.PI]);
    const i8 = parseIdx(idxBytes(0x09, [2], Uint8Array.from([0xff, 0x05])), "i8");
    assert.deepEqual([...i8.data], [-1, 5]);
  });

  it("reads gzipped files by their magic bytes, whatever their name", () => {
    const file = path.join(tmp, "labels-no-gz-suffix");
    fs.writeFileSync(file, zlib.gzipSync(idxBytes(0x08, [4], Uint8Array.from([3, 1, 4, 1]))));
    assert.deepEqual([...readIdxFile(file).data], [3, 1, 4, 1]);
  });

  it("rejects a bad magic number, naming the file and the bytes found", () => {
    const bytes = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]);
    assert.throws(() => parseIdx(bytes, "x.zip"), {
      name: "SlimlabError",
      code: "E_FILE",
      message: "IDX file x.zip starts with 0x50 0x4b, expected 0x00 0x00 (magic number 0x0000<dtype><ndims>): not an IDX file",
    });
  });

  it("rejects an unknown dtype byte and lists the allowed ones", () => {
    assert.throws(() => parseIdx(idxBytes(0x0a, [1], Uint8Array.from([0])), "f"), {
      code: "E_FILE",
      message: "IDX file f declares dtype byte 0x0a, expected one of 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64: the file is corrupt",
    });
  });

  it("rejects truncated files: in the magic, in the header and in the data", () => {
    assert.throws(() => parseIdx(Uint8Array.from([0, 0]), "tiny"), {
      code: "E_FILE",
      message: "IDX file tiny has 2 bytes, expected at least 4 for the magic number: the file is truncated or not an IDX file",
    });
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), "hdr"), {
      code: "E_FILE",
      message: "IDX file hdr has 8 bytes, expected at least 16 for a header of 3 dimensions: the file is truncated",
    });
    const file = path.join(tmp, "train-images-idx3-ubyte");
    fs.writeFileSync(file, idxBytes(0x08, [2, 28, 28], new Uint8Array(1000)));
    assert.throws(() => readIdxFile(file), {
      code: "E_FILE",
      message: `IDX file ${file} has 1016 bytes, expected 1584 (16-byte header + [2, 28, 28] uint8 values of 1 byte): the file is truncated`,
    });
  });

  it("rejects data longer than the header says and zero dimensions", () => {
    assert.throws(() => parseIdx(idxBytes(0x0c, [1], new Uint8Array(8)), "long"), {
      code: "E_FILE",
      message: "IDX file long has 16 bytes, expected 12 (8-byte header + [1] int32 values of 4 bytes): the file is longer than its header says",
    });
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 0]), "scalar"), {
      code: "E_FILE",
      message: "IDX file scalar declares 0 dimensions, expected at least 1: the file is corrupt",
    });
  });

  it("reports a missing file and a broken gzip stream", () => {
    const missing = path.join(tmp, "nope");
    assert.throws(() => readIdxFile(missing), { code: "E_FILE", message: `IDX file ${missing} was expected but it does not exist: check the path` });
    const broken = path.join(tmp, "broken.gz");
    fs.writeFileSync(broken, zlib.gzipSync(idxBytes(0x08, [100], new Uint8Array(100))).subarray(0, 20));
    assert.throws(() => readIdxFile(broken), { code: "E_FILE", message: new RegExp(`^IDX file ${broken} starts like gzip but does not unzip \\(.+\\): the download is probably incomplete$`) });
  });

  it("points at readIdxFile when parseIdx is given gzipped bytes", () => {
    const gz = zlib.gzipSync(idxBytes(0x08, [1], Uint8Array.from([1])));
    assert.throws(() => parseIdx(gz, "a.gz"), { code: "E_FILE", message: /\(it is gzipped: read it with readIdxFile, which unzips\)$/ });
  });
});
