import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { pathToFileURL } from "url";
import { loadSlim, saveSlim } from "../../../plugins/format/slim";
import { quantize } from "../../../plugins/quantize/quantize";
import { assertRejects } from "../../support/assertions";
import { zlibSync } from "fflate";
import { MAX_HEADER_BYTES, PREAMBLE_BYTES } from "../../../plugins/format/container";
import { HEADER_DICTIONARY_ID } from "../../../plugins/format/header-dictionary";
import { assertSameWeights, headerJson, reseal, tmpDir, withHeader, withStoredHeader } from "./helpers";

function smallModel(): tf.LayersModel {
  return tf.sequential({
    name: "small",
    layers: [
      tf.layers.dense({ name: "fc", units: 4, inputShape: [6], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ name: "out", units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

describe("saveSlim / loadSlim errors", () => {
  let dir: string;
  let model: tf.LayersModel;
  let file: string;
  let bytes: Uint8Array;
  const q = (p: string) => JSON.stringify(p);
  /** Writes `b` to a new file and expects loadSlim to reject it with `message` (the file name in place of FILE). */
  const rejects = async (name: string, b: Uint8Array, message: string | RegExp) => {
    const p = path.join(dir, name);
    await fs.writeFile(p, b);
    const expected = typeof message === "string" ? message.replace("FILE", q(p)) : new RegExp(message.source.replace("FILE", q(p).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
    await assertRejects(loadSlim(p), "E_FILE", expected, { oneLine: true });
  };

  before(async () => {
    await tf.setBackend("cpu");
    dir = await tmpDir();
    model = (await quantize(smallModel(), { scheme: "kmeans", bits: 3 })).model;
    file = path.join(dir, "small.slim");
    await saveSlim(model, file);
    bytes = await fs.readFile(file);
  });
  after(async () => {
    model.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("an existing file needs force; with force it is replaced atomically and no temporary file stays", async () => {
    await assertRejects(saveSlim(model, file), "E_FILE", `saveSlim: file ${q(file)} exists; pass --force (force: true) to replace it, or choose another file name`, { oneLine: true });
    const other = (await quantize(smallModel(), { scheme: "affine", bits: 8 })).model;
    const r = await saveSlim(other, file, { force: true });
    assert.strictEqual((await fs.stat(file)).size, r.bytes);
    assertSameWeights(other, await loadSlim(file));
    await saveSlim(model, file, { force: true });
    assert.deepStrictEqual((await fs.readdir(dir)).filter((f) => f.includes("tmp")), []);
    other.dispose();
  });

  it("force replaces only a .slim file, never a file slimlab did not write", async () => {
    const notes = path.join(dir, "notes.slim");
    await fs.writeFile(notes, "my notes");
    await assertRejects(saveSlim(model, notes, { force: true }), "E_FILE", `saveSlim: file ${q(notes)} was not written by slimlab; --force only replaces a file slimlab wrote, so choose a new file name, or delete this one by hand`);
    assert.strictEqual(await fs.readFile(notes, "utf8"), "my notes");
  });

  it("a directory as target, bad options, a bad path argument", async () => {
    await assertRejects(saveSlim(model, dir), "E_FILE", `saveSlim: ${q(dir)} is a directory, not a file; choose a file path`);
    await assertRejects(saveSlim(model, path.join(dir, "x.slim"), { huffmann: true } as never), "E_ARG", 'saveSlim: unknown option "huffmann" (did you mean huffman?); allowed: force, huffman, sparse');
    await assertRejects(saveSlim(model, path.join(dir, "x.slim"), { huffman: "yes" } as never), "E_ARG", 'saveSlim: option huffman must be true or false, received "yes"');
    await assertRejects(saveSlim(model, "" as string), "E_ARG", 'saveSlim: file must be a path such as "out/model.slim", received ""');
    await assertRejects(loadSlim(42 as never), "E_ARG", "loadSlim: source must be a path or a file:// or http(s):// URL, received 42");
  });

  it("weights changed after quantize are refused (E_MODEL), and nothing is written", async () => {
    const r = await quantize(smallModel(), { scheme: "kmeans", bits: 2 });
    const fc = r.model.getLayer("fc");
    const [k, b] = fc.getWeights();
    const changed = tf.add(k, 0.5);
    fc.setWeights([changed, b]);
    const target = path.join(dir, "changed.slim");
    await assertRejects(saveSlim(r.model, target), "E_MODEL", "saveSlim: weights changed since %quantize (fc/kernel); re-run %quantize to save them at their codes, or save the float32 weights with saveModel", { oneLine: true });
    await assert.rejects(fs.stat(target));
    changed.dispose();
    r.model.dispose();
  });

  it("a missing file, a directory, a file that is not .slim", async () => {
    const missing = path.join(dir, "nope.slim");
    await assertRejects(loadSlim(missing), "E_FILE", `loadSlim: cannot read ${q(missing)}: no such file`);
    await assertRejects(loadSlim(dir), "E_FILE", `loadSlim: cannot read ${q(dir)}: it is a directory, not a .slim file`);
    await rejects("model.json", new TextEncoder().encode('{"modelTopology": {}}'), "loadSlim: FILE is not a .slim file (it starts with 7b 22 6d 6f 64 65 6c 54, a .slim file with 89 53 4c 49 4d 0d 0a 1a); pass a file written by saveSlim");
    await rejects("empty.slim", new Uint8Array(0), "loadSlim: FILE is empty, not a .slim file; pass a file written by saveSlim");
  });

  it("truncated, with trailing bytes, of another major version", async () => {
    await rejects("short.slim", bytes.subarray(0, 20), "loadSlim: FILE is truncated: 20 bytes, shorter than the 32-byte preamble; re-save it");
    await rejects("cut.slim", bytes.subarray(0, bytes.length - 1), `loadSlim: FILE is truncated: ${bytes.length - 1} bytes, but its preamble describes ${bytes.length}; re-save it`);
    await rejects("long.slim", Uint8Array.from([...bytes, 0, 0]), `loadSlim: FILE has 2 bytes after the end its preamble describes (${bytes.length} bytes); re-save it`);
    const v2 = Uint8Array.from(bytes);
    v2[8] = 2;
    await rejects("v2.slim", v2, "loadSlim: FILE is .slim version 2.1, but this slimlab reads version 1.x; update slimlab to read it");
  });

  it("a flipped byte in the header or the payload fails its checksum", async () => {
    const header = Uint8Array.from(bytes);
    header[40] ^= 0x20;
    await rejects("h.slim", header, /^loadSlim: FILE has a damaged header \(CRC-32 [0-9a-f]+ instead of the stored [0-9a-f]+\); re-save it$/);
    const payload = Uint8Array.from(bytes);
    payload[payload.length - 3] ^= 1;
    await rejects("p.slim", payload, /^loadSlim: FILE has a damaged payload \(CRC-32 [0-9a-f]+ instead of the stored [0-9a-f]+\); re-save it$/);
  });

  it("the header is stored zlib-compressed with the preset dictionary; plain JSON (1.0) and plain zlib load the same; a bad one is E_FILE", async () => {
    const json = new TextEncoder().encode(headerJson(bytes));
    const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
    const dictId = new DataView(bytes.buffer, bytes.byteOffset + PREAMBLE_BYTES + 2, 4).getUint32(0, false);
    assert.ok((bytes[PREAMBLE_BYTES] & 0x0f) === 8 && (bytes[PREAMBLE_BYTES + 1] & 0x20) !== 0 && dictId === HEADER_DICTIONARY_ID, "zlib with FDICT naming the dictionary");
    assert.ok(stored < json.length / 2, `stored header ${stored} B, JSON ${json.length} B`);
    const plain = withStoredHeader(bytes, json);
    new DataView(plain.buffer).setUint16(10, 0, true); // as version 1.0 wrote it
    await fs.writeFile(path.join(dir, "plain.slim"), reseal(plain));
    assertSameWeights(model, await loadSlim(path.join(dir, "plain.slim")));
    const packed = zlibSync(json, { level: 9 });
    await fs.writeFile(path.join(dir, "nodict.slim"), withStoredHeader(bytes, packed));
    assertSameWeights(model, await loadSlim(path.join(dir, "nodict.slim")));
    await rejects("neither.slim", withStoredHeader(bytes, Uint8Array.of(0x5b, 0x5d)), "loadSlim: FILE has a header that is neither JSON nor zlib-compressed JSON (it starts with 5b 5d); re-save it");
    await rejects("cut-header.slim", withStoredHeader(bytes, packed.subarray(0, packed.length >> 1)), /^loadSlim: FILE has a compressed header that (does not inflate \(.+\)|ends early); re-save it$/);
    const otherDict = zlibSync(json, { level: 9, dictionary: new TextEncoder().encode('{"tensors":[') });
    const otherId = new DataView(otherDict.buffer, 2, 4).getUint32(0, false).toString(16).padStart(8, "0");
    await rejects("dict.slim", withStoredHeader(bytes, otherDict), `loadSlim: FILE has a header compressed with an unknown preset dictionary (Adler-32 ${otherId}; this slimlab knows ${HEADER_DICTIONARY_ID.toString(16)}); re-save it`);
    const bomb = zlibSync(new Uint8Array(MAX_HEADER_BYTES + 1).fill(0x20), { level: 9 });
    await rejects("bomb.slim", withStoredHeader(bytes, bomb), `loadSlim: FILE has a compressed header that does not inflate (it inflates to more than ${MAX_HEADER_BYTES} bytes); re-save it`);
  });

  it("a header with valid checksums but a bad table or topology (a crafted or newer file)", async () => {
    await rejects("layout.slim", withHeader(bytes, (h) => (h.tensors[0].layout = { type: "rle" })), 'loadSlim: FILE has an invalid header: tensor 0 (fc/kernel): layout type "rle" is not dense, dense-huffman, csr or csr-huffman (a newer .slim version?); re-save it');
    // fc/kernel: 8 codebook floats (32 bytes) + 24 codes × 3 bits (9 bytes) = 41 bytes.
    await rejects("offset.slim", withHeader(bytes, (h) => (h.tensors[1].offset += 1)), "loadSlim: FILE has an invalid header: tensor 1 (fc/bias): offset 42 should be 41 (sections follow each other); re-save it");
    await rejects("bits.slim", withHeader(bytes, (h) => (h.tensors[0].values.bits = 4)), "loadSlim: FILE has an invalid header: tensor 0 (fc/kernel): section of 41 bytes, but its encoding needs 44; re-save it");
    await rejects("name.slim", withHeader(bytes, (h) => (h.tensors[1].name = "fc/gamma")), "loadSlim: FILE stores weight fc/gamma, which its model does not have; re-save it");
    await rejects("class.slim", withHeader(bytes, (h) => (h.modelTopology.config.layers[1].class_name = "NoSuchLayer")), /^loadSlim: FILE has a topology tfjs cannot build: .*NoSuchLayer.*; load it where its layer classes are registered, or re-save it$/);
  });

  it("loads from file:// and http:// URLs; an HTTP error is E_FILE naming the URL", async () => {
    assertSameWeights(model, await loadSlim(pathToFileURL(file).href));
    const server = http.createServer((req, res) => {
      if (req.url === "/small.slim") res.end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      assertSameWeights(model, await loadSlim(`${base}/small.slim`));
      await assertRejects(loadSlim(`${base}/missing.slim`), "E_FILE", `loadSlim: "${base}/missing.slim" answered HTTP 404 Not Found; check the URL`);
    } finally {
      server.close();
    }
  });
});
