import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { packHeader, SlimHeader } from "../../../plugins/format/container";
import { adler32, HEADER_DICTIONARY, HEADER_DICTIONARY_ID, HEADER_DICTIONARY_LINES } from "../../../plugins/format/header-dictionary";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

describe("format header dictionary", () => {
  it("docs/slim-format.md lists exactly the dictionary's lines, and the id and length it states", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "slim-format.md"), "utf8");
    const section = doc.slice(doc.indexOf("### Header dictionary"));
    const block = /```text\n([\s\S]*?)\n```/.exec(section);
    assert.ok(block, "no text block under ### Header dictionary");
    assert.deepStrictEqual(block[1].split("\n"), [...HEADER_DICTIONARY_LINES]);
    assert.ok(section.includes(`${HEADER_DICTIONARY.length.toLocaleString("en-US")} bytes long`) && section.includes(`\`${HEADER_DICTIONARY_ID.toString(16)}\``), "length and id in the text");
    assert.ok(!HEADER_DICTIONARY_LINES.some((l) => l.includes("\n")));
  });

  it("adler32 is RFC 1950's (a known value, and the id Node's zlib writes for the dictionary)", () => {
    assert.strictEqual(adler32(new TextEncoder().encode("Wikipedia")), 0x11e60398);
    const z = zlib.deflateSync(Buffer.from("{}"), { dictionary: Buffer.from(HEADER_DICTIONARY) });
    assert.strictEqual(z.readUInt32BE(2), HEADER_DICTIONARY_ID);
  });

  it("a packed header inflates with Node's zlib given the dictionary, and is shorter than its JSON", () => {
    const header: SlimHeader = {
      generator: "slimlab",
      modelTopology: { class_name: "Sequential", config: { name: "m", layers: [] } },
      tensors: [{ name: "fc/bias", shape: [10], scheme: "none", offset: 0, length: 40, values: { type: "float32" }, layout: { type: "dense" } }],
    };
    const packed = packHeader(header);
    const json = JSON.stringify(header);
    assert.ok(packed.length < json.length / 2, `${packed.length} vs ${json.length}`);
    assert.strictEqual(zlib.inflateSync(packed, { dictionary: Buffer.from(HEADER_DICTIONARY) }).toString("utf8"), json);
  });

  it("a header too small to gain from compression is stored as plain JSON", () => {
    const tiny = {} as unknown as SlimHeader; // zlib alone costs 6 bytes of head and 4 of checksum
    assert.strictEqual(new TextDecoder().decode(packHeader(tiny)), JSON.stringify(tiny));
  });
});
