/**
 * The Host a kernel gives plugins: display_data, live displays updated in
 * place by display_id, throttled progress bars, and the interrupt signal.
 */
import { strict as assert } from "assert";
import { KernelHost } from "../../../kernel/display/kernel-host";

type Sent = { type: string; content: Record<string, unknown> };

function host(): { h: KernelHost; sent: Sent[] } {
  const sent: Sent[] = [];
  return { h: new KernelHost((type, content) => sent.push({ type, content })), sent };
}

const displayId = (s: Sent) => (s.content.transient as { display_id?: string }).display_id;

describe("kernel/display/kernel-host", () => {
  it("display sends one display_data with the bundle", () => {
    const { h, sent } = host();
    h.display({ "text/plain": "x", "text/html": "<b>x</b>" });
    assert.deepEqual(sent, [{ type: "display_data", content: { data: { "text/plain": "x", "text/html": "<b>x</b>" }, metadata: {}, transient: {} } }]);
  });

  it("a live display is updated in place under one display_id", () => {
    const { h, sent } = host();
    const live = h.liveDisplay({ "text/plain": "1" });
    live.update({ "text/plain": "2" });
    assert.deepEqual(sent.map((s) => s.type), ["display_data", "update_display_data"]);
    assert.match(String(displayId(sent[0])), /^[0-9a-f]{16}$/);
    assert.equal(displayId(sent[1]), displayId(sent[0]));
    assert.deepEqual(sent[1].content.data, { "text/plain": "2" });
  });

  it("progress throttles updates, always sends the end, and ignores calls after it", () => {
    const { h, sent } = host();
    const p = h.progress("steps", 4);
    p.update(1);
    p.update(2); // within 100 ms of the previous: dropped
    p.end("interrupted", "stopped");
    p.update(3);
    p.end("done");
    const texts = sent.map((s) => (s.content.data as Record<string, string>)["text/plain"]);
    assert.deepEqual(sent.map((s) => s.type), ["display_data", "update_display_data", "update_display_data"]);
    assert.deepEqual(texts, [
      `steps [${".".repeat(30)}] 0% 0/4`,
      `steps [${"#".repeat(8)}${".".repeat(22)}] 25% 1/4`,
      `steps [${"#".repeat(15)}${".".repeat(15)}] 50% interrupted 2/4 stopped`,
    ]);
  });

  it("interrupt aborts the cell's signal; a new cell gets a fresh one", () => {
    const { h } = host();
    const first = h.signal();
    assert.equal(first.aborted, false);
    h.interrupt();
    assert.equal(first.aborted, true);
    h.newCell();
    assert.equal(h.signal().aborted, false);
  });

  it("clearOutput sends clear_output with wait", () => {
    const { h, sent } = host();
    h.clearOutput(true);
    assert.deepEqual(sent, [{ type: "clear_output", content: { wait: true } }]);
  });
});
