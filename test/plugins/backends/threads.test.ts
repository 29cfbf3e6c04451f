import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { invokeMagic } from "../../../plugins/core/magic";
import { backendMagic } from "../../../plugins/backends/magic";
import { checkWasmThreads, wasmThreadsNote } from "../../../plugins/backends/threads";
import { suiteBackend } from "./compare";

describe("backends/threads", () => {
  suiteBackend("cpu");
  const report = { active: "cpu" as const, tried: [{ name: "cpu" as const, ok: true, reason: "plain JavaScript" }] };

  it("%backend wasm --threads N > 1 fails in one line saying why, and the backend stays", async () => {
    await assert.rejects(invokeMagic(backendMagic(report), ["wasm"], { threads: 4 }), (e: Error) => {
      assert.match(e.message, /^wasm --threads 4 is not available: tfjs-backend-wasm 4\.22 runs on one thread under Node .*install @tensorflow\/tfjs-node\.$/);
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    });
    assert.equal(tf.getBackend(), "cpu");
  });

  it("--threads goes with wasm only; --threads 1 is accepted", async () => {
    await assert.rejects(invokeMagic(backendMagic(report), ["cpu"], { threads: 1 }), /--threads is for the wasm backend/);
    assert.doesNotThrow(() => checkWasmThreads(1));
  });

  it("SLIMLAB_WASM_THREADS: unset, empty or 1 say nothing; another count gives a one-line note", () => {
    assert.equal(wasmThreadsNote({}), undefined);
    assert.equal(wasmThreadsNote({ SLIMLAB_WASM_THREADS: "" }), undefined);
    assert.equal(wasmThreadsNote({ SLIMLAB_WASM_THREADS: "1" }), undefined);
    const note = wasmThreadsNote({ SLIMLAB_WASM_THREADS: "8" }) ?? "";
    assert.match(note, /^SLIMLAB_WASM_THREADS=8 ignored: tfjs-backend-wasm 4\.22 runs on one thread/);
    assert.ok(!note.includes("\n"));
  });
});
