import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { mulberry32 } from "../../../plugins/data/random";
import { BitReader, BitWriter, unpack } from "../../../plugins/format/bits";
import { topologyConfig } from "../../../plugins/format/build";
import { crc32 } from "../../../plugins/format/crc32";
import { HuffmanDecoder, writeLengths } from "../../../plugins/format/huffman-table";
import { huffmanCode } from "../../../plugins/quantize/huffman";
import { checkSlimlabError } from "../../support/assertions";

/** Encodes `symbols` with huffmanCode (what the encoder uses) and decodes them with the core's decoder. */
function huffmanRoundTrip(symbols: number[], alphabet: number): { decoded: number[]; bits: number; tableBits: number } {
  const h = huffmanCode(symbols, alphabet);
  const w = new BitWriter();
  writeLengths(w, h.lengths);
  const tableBits = w.bitLength;
  for (const s of symbols) w.writeMsbFirst(h.codes[s], h.lengths[s]);
  const r = new BitReader(w.finish(), "t", "stream", w.bitLength);
  const d = new HuffmanDecoder(r, alphabet);
  assert.strictEqual(r.pos, tableBits);
  const decoded = symbols.map(() => d.decode(r));
  assert.strictEqual(r.pos, w.bitLength);
  return { decoded, bits: w.bitLength - tableBits, tableBits };
}

describe("format core: checksums, bit streams, Huffman tables", () => {
  it("crc32 matches the standard check value and continues across pieces", () => {
    const text = new TextEncoder().encode("123456789");
    assert.strictEqual(crc32(text), 0xcbf43926);
    assert.strictEqual(crc32(new Uint8Array(0)), 0);
    const r = mulberry32(5);
    const data = Uint8Array.from({ length: 1001 }, () => Math.floor(r() * 256));
    assert.strictEqual(crc32(data.subarray(500), crc32(data.subarray(0, 500))), crc32(data));
  });

  it("BitWriter packs least significant bit first, and BitReader reads it back", () => {
    const w = new BitWriter();
    w.write(5, 3); // 1 0 1
    w.write(0, 2);
    w.write(3, 2); // 1 1
    w.write(0xabcdef12, 32);
    w.write(1, 1);
    const bytes = w.finish();
    assert.strictEqual(bytes[0], 0b01100101);
    assert.strictEqual(w.bitLength, 40);
    const r = new BitReader(bytes, "t", "s");
    assert.deepStrictEqual([r.read(3), r.read(2), r.read(2), r.read(32), r.read(1)], [5, 0, 3, 0xabcdef12, 1]);
  });

  it("Elias gamma: 1 is one bit, 5 is 00101; values up to 2^32 − 1 round-trip", () => {
    const w = new BitWriter();
    w.gamma(1);
    w.gamma(5);
    assert.strictEqual(w.bitLength, 6);
    assert.strictEqual(w.finish()[0], 0b101001);
    const values = [1, 2, 3, 1000, 65537, 2 ** 32 - 1];
    const w2 = new BitWriter();
    values.forEach((v) => w2.gamma(v));
    const r = new BitReader(w2.finish(), "t", "s");
    assert.deepStrictEqual(values.map(() => r.gamma()), values);
  });

  it("reading past the stream's end is E_FILE, naming the file and the part", () => {
    const r = new BitReader(new Uint8Array(1), "\"m.slim\"", "fc1/kernel", 6);
    r.read(4);
    assert.throws(() => r.read(3), (e) => checkSlimlabError(e, "E_FILE", "loadSlim: \"m.slim\": fc1/kernel: the bit stream ends at bit 6 but a 3-bit field starts at bit 4; the file is corrupt, re-save it"));
  });

  it("unpack agrees with BitWriter for every width 1–16", () => {
    const r = mulberry32(2);
    for (let bits = 1; bits <= 16; bits++) {
      const codes = Array.from({ length: 37 }, () => Math.floor(r() * 2 ** bits));
      const w = new BitWriter();
      codes.forEach((c) => w.write(c, bits));
      assert.deepStrictEqual(Array.from(unpack(w.finish(), bits, 37)), codes, `${bits} bits`);
    }
  });

  it("a Huffman table costs gamma(U + 1) plus gamma(gap) and 5 bits per used symbol", () => {
    // Symbols 0 and 2 of an alphabet of 4: U = 2 → gamma(3) = 3 bits; gaps 1, 2 → 1 + 3 bits; 2 × 5 length bits.
    const { decoded, bits, tableBits } = huffmanRoundTrip([0, 0, 2], 4);
    assert.deepStrictEqual(decoded, [0, 0, 2]);
    assert.strictEqual(tableBits, 3 + 1 + 3 + 10);
    assert.strictEqual(bits, 3);
  });

  it("Huffman decoding matches huffmanCode's canonical codes, short and long (> 11 bits)", () => {
    const r = mulberry32(9);
    const skewed = Array.from({ length: 3000 }, () => Math.min(63, Math.floor(-Math.log2(r() + 1e-12) * 2)));
    assert.deepStrictEqual(huffmanRoundTrip(skewed, 64).decoded, skewed);
    // Fibonacci counts give a code of maximal depth: 20 symbols, lengths up to 19 bits.
    const fib = [1, 1];
    while (fib.length < 20) fib.push(fib[fib.length - 1] + fib[fib.length - 2]);
    const symbols = fib.flatMap((c, s) => Array(c).fill(s));
    const h = huffmanCode(symbols, 20);
    assert.strictEqual(Math.max(...h.lengths), 19);
    assert.deepStrictEqual(huffmanRoundTrip(symbols, 20).decoded, symbols);
    // A single used symbol has the 1-bit code 0.
    assert.deepStrictEqual(huffmanRoundTrip([7, 7, 7], 9).decoded, [7, 7, 7]);
  });

  it("a table whose lengths are not a complete prefix code, or that names a symbol outside the alphabet, is E_FILE", () => {
    const bad = (lengths: number[], alphabet: number, message: RegExp) => {
      const w = new BitWriter();
      writeLengths(w, lengths);
      assert.throws(() => new HuffmanDecoder(new BitReader(w.finish(), "f", "t"), alphabet), (e) => checkSlimlabError(e, "E_FILE", message));
    };
    bad([1, 1, 1], 3, /Kraft sum 1\.5/);
    bad([2, 2, 2], 3, /Kraft sum 0\.75/);
    bad([0, 0, 0, 0, 1], 4, /names symbol 4 but the alphabet has 4/);
    bad([2], 1, /single-symbol Huffman code must have length 1, not 2/);
  });

  it("topologyConfig converts model.json's topology as tfjs' loader does", async () => {
    await tf.setBackend("cpu");
    const m = tf.sequential({ layers: [tf.layers.conv2d({ name: "my_conv", filters: 2, kernelSize: 3, inputShape: [5, 5, 1], dataFormat: "channelsLast" })] });
    let topology: unknown;
    await m.save(tf.io.withSaveHandler(async (a) => ((topology = a.modelTopology), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } })));
    const c = topologyConfig(topology) as { className: string; config: { layers: { className: string; config: Record<string, unknown> }[] } };
    assert.strictEqual(c.className, "Sequential");
    const conv = c.config.layers[0];
    assert.deepStrictEqual([conv.className, conv.config.name, conv.config.dataFormat, conv.config.kernelSize], ["Conv2D", "my_conv", "channelsLast", [3, 3]]);
    assert.deepStrictEqual(topologyConfig({ inbound_nodes: [[["fc_1", 0, 0, {}]]], output_layers: [["out_layer", 0, 0]] }), { inboundNodes: [[["fc_1", 0, 0, {}]]], outputLayers: [["out_layer", 0, 0]] });
    m.dispose();
  });
});
