/**
 * `%export --format onnx`: the ONNX branch of the one export magic. It
 * writes what exportOnnx writes, and refuses in one line (writing nothing)
 * a flag of another format, a path that does not fit, and int8 flags that
 * do not go together.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { isSlimlabError } from "../../../plugins/core/errors";
import { helpText, invokeMagic, usage } from "../../../plugins/core/magic";
import { setHost, textHost } from "../../../plugins/core/host";
import { exportModel } from "../../../plugins/format/export";
import { exportMagic } from "../../../plugins/format/magic";
import { decodeModel } from "../../../plugins/onnx/proto";
import { init, tmpDir } from "./helpers";

const model = () => tf.sequential({ name: "m", layers: [tf.layers.dense({ name: "fc", units: 3, inputShape: [4], activation: "relu", kernelInitializer: init(1) }), tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(2) })] });

describe("%export --format onnx", () => {
  const dir = tmpDir();
  before(() => setHost(textHost(() => undefined)));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is declared once with the issue's flags: --int8 dynamic|static, --calibrate, --per-channel, --opset, --force", () => {
    assert.strictEqual(
      usage(exportMagic),
      "%export <model> --format slim|tfjs|onnx --out OUT [--force] [--huffman] [--sparse] [--int8 dynamic|static] [--calibrate CALIBRATE] [--observer minmax|percentile|mse] [--per-channel] [--opset OPSET]",
    );
    assert.match(helpText(exportMagic), /--opset {2}onnx: the ONNX opset \(default 17\) \(integer >= 13 and <= 17\)/);
  });

  it("writes float32 and static int8 per-channel files with the requested opset, as exportModel reports", async () => {
    const f = path.join(dir, "f.onnx");
    const r = await invokeMagic(exportMagic, [model()], { format: "onnx", out: f, opset: "13" });
    assert.strictEqual(r.toString(), `Exported model "m" as an ONNX file to ${f}: ${fs.statSync(f).size} bytes on disk (opset 13, float32, ${r.onnx?.nodes} nodes)`);
    assert.deepStrictEqual([r.format, r.files, r.bytes], ["onnx", ["f.onnx"], fs.statSync(f).size]);
    assert.strictEqual(Number(decodeModel(fs.readFileSync(f)).opsetImport![0].version), 13);
    const xs = tf.randomNormal([10, 4], 0, 1, "float32", 1);
    const q = path.join(dir, "q.onnx");
    const rq = await invokeMagic(exportMagic, [model()], { format: "onnx", out: q, int8: "static", calibrate: xs, perChannel: true, observer: "percentile" });
    assert.strictEqual(rq.onnx?.precision, "int8 static per-channel");
    const scale = decodeModel(fs.readFileSync(q)).graph!.initializer!.find((i) => i.name === "fc_kernel_scale")!;
    assert.deepStrictEqual((scale.dims as number[]).map(Number), [3]);
    const d = await invokeMagic(exportMagic, [model()], { format: "onnx", out: q, int8: "dynamic", force: true });
    assert.strictEqual(d.onnx?.precision, "int8 dynamic per-tensor");
    assert.ok(decodeModel(fs.readFileSync(q)).graph!.node!.some((n) => n.opType === "MatMulInteger"), "--force replaced the file with the dynamic export");
    xs.dispose();
  });

  const bad: [string, Record<string, unknown>, string, string][] = [
    ["an unknown format", { format: "onx" }, "E_ARG", '%export: --format got "onx"; expected one of slim, tfjs, onnx (did you mean onnx?)'],
    ["--int8 with format slim", { format: "slim", out: path.join("x", "m.slim"), int8: "dynamic" }, "E_ARG", "%export: --int8 applies to format onnx only (int8 for ONNX Runtime); for slim, quantize the model first with %quantize, or pass format onnx"],
    ["--per-channel with format tfjs", { format: "tfjs", out: path.join("x", "m"), perChannel: true }, "E_ARG", "%export: --per-channel applies to format onnx only (int8 for ONNX Runtime); for tfjs, quantize the model first with %quantize, or pass format onnx"],
    ["--huffman with format onnx", { huffman: true }, "E_ARG", "%export: --huffman applies to format slim only; onnx stores float32 or int8 weights"],
    ["--int8 static without --calibrate", { int8: "static" }, "E_MISSING_ARG", "%export: --int8 static needs --calibrate <var> with calibration inputs (a tensor or {xs}, e.g. held-out training images); e.g. --calibrate xs"],
    ["--calibrate with --int8 dynamic", { int8: "dynamic", calibrate: 1 }, "E_ARG", "%export: --calibrate applies with --int8 static only; add --int8 static or drop --calibrate"],
    ["--observer without --int8", { observer: "mse" }, "E_ARG", "%export: --observer applies with --int8 static only; add --int8 static or drop --observer"],
    ["--per-channel without --int8", { perChannel: true }, "E_ARG", "%export: --per-channel applies to int8 weights; add --int8 dynamic or --int8 static"],
    ["--opset 12", { opset: 12 }, "E_ARG", "%export: --opset got 12; expected an integer >= 13 and <= 17"],
    ["--int8 int4", { int8: "int4" }, "E_ARG", "%export: --int8 got \"int4\"; expected one of dynamic, static"],
  ];
  for (const [what, flags, code, message] of bad) {
    it(`${what}: one line, nothing written`, async () => {
      const out = path.join(dir, "bad.onnx");
      await assert.rejects(invokeMagic(exportMagic, [model()], { format: "onnx", out, ...flags }), (e: unknown) => isSlimlabError(e) && e.code === code && e.message === message && !e.message.includes("\n"));
      assert.ok(!fs.existsSync(out) && !fs.existsSync(path.join("x")));
    });
  }

  it("exportModel refuses the same, in its own option names, and a path that does not end in .onnx", async () => {
    const out = path.join(dir, "fn.onnx");
    const cases: [Record<string, unknown>, string, string][] = [
      [{ format: "onnx", out: path.join(dir, "m") }, "E_ARG", `exportModel: out ${JSON.stringify(path.join(dir, "m"))} does not end in .onnx, which format onnx writes; pass e.g. ${JSON.stringify(path.join(dir, "m.onnx"))}`],
      [{ format: "tfjs", out }, "E_ARG", `exportModel: out ${JSON.stringify(out)} ends in .onnx but format tfjs writes a directory (model.json + shards); pass format onnx, or a directory path`],
      [{ format: "slim", out: path.join(dir, "m.slim"), calibrate: 1 }, "E_ARG", "exportModel: calibrate applies to format onnx only (int8 for ONNX Runtime); for slim, quantize the model first with %quantize, or pass format onnx"],
      [{ format: "onnx", out, int8: "static" }, "E_MISSING_ARG", 'exportModel: int8 "static" needs calibration inputs for the activation ranges; pass calibrate: xs (--calibrate xs), e.g. 500 training images'],
      [{ format: "onnx", out, observer: "mse" }, "E_ARG", 'exportModel: observer picks activation ranges, which only int8 "static" has; add int8: "static" (--int8 static) or drop observer'],
    ];
    for (const [options, code, message] of cases) {
      await assert.rejects(exportModel(model(), options as never), (e: unknown) => isSlimlabError(e) && e.code === code && e.message === message);
    }
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith("fn") || f === "m" || f === "m.slim"), []);
  });
});
