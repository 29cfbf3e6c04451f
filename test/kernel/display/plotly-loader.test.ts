/**
 * plotly.js goes out once per notebook, in a display_data of its own before
 * the first figure, and comes back when the output that carried it is
 * cleared (by its cell, or by the frontend re-running that cell). Checked on
 * the messages KernelHost sends, and on a model of a frontend's output areas
 * (clear_output, clear_output(wait), update_display_data) driven by seeded
 * random cells: whenever the notebook shows a figure, it holds plotly.js.
 */
import { strict as assert } from "assert";
import { KernelHost } from "../../../kernel/display/kernel-host";
import { plotlyBundle } from "../../../plugins/core/figure";
import { MimeBundle } from "../../../plugins/core/host";

type Sent = { type: string; content: Record<string, unknown> };

const fig = (name = "f") => plotlyBundle({ data: [{ y: [1, 2] }], layout: { title: { text: name } } });
const text: MimeBundle = { "text/plain": "hello" };

function isLoader(data: unknown): boolean {
  return /slimlab: plotly\.js/.test(String((data as MimeBundle | undefined)?.["text/html"] ?? ""));
}

function host(): { h: KernelHost; sent: Sent[]; kinds: () => string[] } {
  const sent: Sent[] = [];
  const h = new KernelHost((type, content) => sent.push({ type, content }));
  const kinds = () => sent.map((s) => (s.type !== "display_data" && s.type !== "update_display_data" ? s.type : isLoader(s.content.data) ? "loader" : `${s.type === "display_data" ? "" : "update:"}${String((s.content.data as MimeBundle)["text/plain"])}`));
  return { h, sent, kinds };
}

/** Runs one "cell" on the host: newCell, the body, endCell (as CellRunner does). */
function cell(h: KernelHost, body: () => void, code = String(Math.random()), request?: unknown): void {
  h.newCell(code, request);
  body();
  h.endCell();
}

describe("kernel/display/plotly-loader (plotly.js once per notebook)", () => {
  it("the first figure is preceded by the loader, a display_data of its own; later figures and other outputs carry none", () => {
    const { h, sent, kinds } = host();
    cell(h, () => h.display(text));
    cell(h, () => {
      h.display(fig("a"));
      h.display(fig("b"));
    });
    cell(h, () => h.display(fig("c")));
    assert.deepEqual(kinds(), ["hello", "loader", "Figure: a (1 trace)", "Figure: b (1 trace)", "Figure: c (1 trace)"]);
    const loader = sent[1].content;
    assert.deepEqual(Object.keys(loader.data as MimeBundle), ["text/html"]);
    assert.deepEqual(loader.transient, {}, "no display_id: nothing can update the loader away");
    for (const s of [sent[2], sent[3], sent[4]]) assert.ok(!/plotly\.js v\d/.test(String((s.content.data as MimeBundle)["text/html"])), "a figure carries no plotly.js");
  });

  it("a live first figure: the loader goes before it, and its updates never touch the loader", () => {
    const { h, sent, kinds } = host();
    let live: ReturnType<KernelHost["liveDisplay"]> | undefined;
    cell(h, () => {
      live = h.liveDisplay(fig("1"));
      live.update(fig("2"));
    });
    cell(h, () => live?.update(fig("3")));
    assert.deepEqual(kinds(), ["loader", "Figure: 1 (1 trace)", "update:Figure: 2 (1 trace)", "update:Figure: 3 (1 trace)"]);
    const id = (s: Sent) => (s.content.transient as { display_id?: string }).display_id;
    assert.equal(id(sent[0]), undefined);
    assert.ok(id(sent[1]));
    assert.equal(id(sent[2]), id(sent[1]));
  });

  it("a figure as the cell's value (execute_result) gets the loader first", () => {
    const { h, kinds } = host();
    h.newCell("fig");
    const b = h.result(fig("v"));
    h.endCell();
    assert.deepEqual(kinds(), ["loader"]);
    assert.equal(b["text/plain"], "Figure: v (1 trace)");
  });

  it("the carrier cell clearing itself while animating: one more loader at its end, not one per frame", () => {
    const { h, kinds } = host();
    cell(h, () => {
      for (let i = 0; i < 5; i++) {
        h.clearOutput(true);
        h.display(fig(String(i)));
      }
    });
    assert.deepEqual(kinds().filter((k) => k === "loader").length, 2);
    assert.equal(kinds()[kinds().length - 1], "loader");
    cell(h, () => h.display(fig("next")));
    assert.equal(kinds()[kinds().length - 1], "Figure: next (1 trace)");
  });

  it("a clear in another cell leaves the loader where it is", () => {
    const { h, kinds } = host();
    cell(h, () => h.display(fig("a")));
    cell(h, () => {
      h.display(fig("b"));
      h.clearOutput(false);
      h.display(fig("c"));
    });
    assert.equal(kinds().filter((k) => k === "loader").length, 1);
  });

  it("the carrier cell clears and shows no figure after: it still sends the loader at its end (figures elsewhere may need it)", () => {
    const { h, kinds } = host();
    cell(h, () => h.display(fig("a")));
    cell(h, () => h.display(fig("b")));
    cell(h, () => {
      h.display(text);
    }, "first cell, edited", undefined);
    assert.equal(kinds().filter((k) => k === "loader").length, 1, "a cell that never carried it leaves it alone");
    const c = host();
    cell(c.h, () => {
      c.h.display(fig("a"));
      c.h.clearOutput(false);
      c.h.display(text);
    });
    assert.deepEqual(c.kinds(), ["loader", "Figure: a (1 trace)", "clear_output", "hello", "loader"]);
    cell(c.h, () => c.h.display(fig("b")));
    assert.deepEqual(c.kinds().slice(5), ["Figure: b (1 trace)"]);
  });

  it("the carrier cell runs again and shows no figure this time: it sends the loader at its end, for the figures of other cells", () => {
    const { h, kinds } = host();
    cell(h, () => h.display(fig("a")), "cell A");
    cell(h, () => h.display(fig("b")), "cell B");
    cell(h, () => h.display(text), "cell A");
    assert.deepEqual(kinds(), ["loader", "Figure: a (1 trace)", "Figure: b (1 trace)", "hello", "loader"]);
  });

  it("the carrier cell ends with clear_output(wait) pending: nothing is sent then (it would clear the figures); the next figure brings it", () => {
    const { h, kinds } = host();
    cell(h, () => {
      h.display(fig("a"));
      h.clearOutput(true);
    });
    assert.deepEqual(kinds(), ["loader", "Figure: a (1 trace)", "clear_output"]);
    cell(h, () => h.display(fig("b")));
    assert.deepEqual(kinds().slice(3), ["loader", "Figure: b (1 trace)"]);
  });

  it("the carrier cell runs again (same cellId, or the same code when the frontend sends no cellId): its next figure brings the loader", () => {
    const req = (cellId: string) => ({ metadata: { cellId }, content: {} });
    {
      const { h, kinds } = host();
      cell(h, () => h.display(fig("a")), "display(a)", req("A"));
      cell(h, () => h.display(fig("b")), "display(a)", req("B")); // same code, another cell
      assert.equal(kinds().filter((k) => k === "loader").length, 1);
      cell(h, () => h.display(fig("a2")), "edited", req("A")); // cell A again, edited
      assert.equal(kinds().filter((k) => k === "loader").length, 2);
    }
    {
      const { h, kinds } = host();
      cell(h, () => h.display(fig("a")), "display(a)");
      cell(h, () => h.display(fig("b")), "display(b)");
      cell(h, () => h.display(fig("a")), "display(a)"); // classic Notebook: no cellId, same code
      assert.equal(kinds().filter((k) => k === "loader").length, 2);
    }
  });

  it("a silent request (a frontend's own query) neither carries the loader nor removes it", () => {
    const { h, kinds } = host();
    cell(h, () => h.display(fig("s")), "query", { content: { silent: true } });
    cell(h, () => h.display(fig("a")), "cell A");
    cell(h, () => h.clearOutput(false), "cell A", { content: { silent: true } });
    cell(h, () => h.display(fig("b")), "cell B");
    assert.deepEqual(kinds(), ["Figure: s (1 trace)", "loader", "Figure: a (1 trace)", "clear_output", "Figure: b (1 trace)"]);
  });

  describe("a model frontend, random cells", () => {
    /** Output areas as Jupyter frontends keep them: clear_output(wait) clears when the next output arrives. */
    class Frontend {
      areas = new Map<string, { data: unknown; displayId?: string }[]>();
      pendingWait = new Set<string>();
      current = "";
      run(cellId: string) {
        this.current = cellId;
        this.areas.set(cellId, []); // the frontend clears a cell it runs again
        this.pendingWait.delete(cellId);
      }
      loadersSent = 0;
      figuresSent = 0;
      output(data: unknown, displayId?: string) {
        if (isLoader(data)) this.loadersSent++;
        else if ((data as MimeBundle)["application/vnd.plotly.v1+json"] !== undefined) this.figuresSent++;
        if (this.pendingWait.delete(this.current)) this.areas.set(this.current, []);
        this.areas.get(this.current)?.push({ data, displayId });
      }
      on(s: Sent) {
        const id = (s.content.transient as { display_id?: string } | undefined)?.display_id;
        if (s.type === "display_data") this.output(s.content.data, id);
        else if (s.type === "clear_output") {
          if (s.content.wait) this.pendingWait.add(this.current);
          else this.areas.set(this.current, []);
        } else if (s.type === "update_display_data") {
          for (const a of this.areas.values()) for (const o of a) if (o.displayId === id) o.data = s.content.data;
        }
      }
      all() {
        return [...this.areas.values()].flat().map((o) => o.data);
      }
    }

    /** mulberry32 */
    function rng(seed: number): () => number {
      return () => {
        seed = (seed + 0x6d2b79f5) >>> 0;
        let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`seed ${seed}: whenever a figure is shown plotly.js is in the notebook (from the next cell on, after a pending clear), never twice in one cell, and seldom sent`, () => {
        const r = rng(seed);
        const fe = new Frontend();
        const h = new KernelHost((type, content) => fe.on({ type, content }));
        const cells = ["A", "B", "C", "D"];
        const codes = new Map<string, string>();
        const withCellIds = seed % 2 === 0;
        const lives: ReturnType<KernelHost["liveDisplay"]>[] = [];
        let sent = 0;
        let figuresSent = 0;
        let maxCopies = 0;
        for (let step = 0; step < 40; step++) {
          const cellId = cells[Math.floor(r() * cells.length)];
          // A cell's code changes now and then; without cellIds (classic Notebook) a re-run is only
          // recognised by its code, so there cells run again as they are (Run All, or re-running a cell).
          if (!codes.has(cellId) || (withCellIds && r() < 0.2)) codes.set(cellId, `${cellId}-${step}`);
          fe.run(cellId);
          h.newCell(codes.get(cellId), withCellIds ? { metadata: { cellId } } : {});
          const ops = 1 + Math.floor(r() * 6);
          let waitPending = false; // as the host sees it: a clear_output(wait) and no display since
          for (let i = 0; i < ops; i++) {
            const p = r();
            if (p < 0.3) h.display(fig());
            else if (p < 0.4) lives.push(h.liveDisplay(fig("live")));
            else if (p < 0.5 && lives.length) lives[Math.floor(r() * lives.length)].update(fig("updated"));
            else if (p < 0.6) h.display(text);
            else if (p < 0.7) fe.output({ "text/plain": "printed" }); // a stream: the host does not see it
            else if (p < 0.85) h.clearOutput(true);
            else h.clearOutput(false);
            if (p < 0.4 || (p >= 0.5 && p < 0.6)) waitPending = false;
            else if (p >= 0.7 && p < 0.85) waitPending = true;
          }
          // CellRunner: the value's bundle is made before the cell ends; kernel.ts publishes it after.
          const value = r() < 0.2 ? h.result(fig("value")) : undefined;
          if (value) waitPending = false;
          h.endCell();
          if (value) fe.output(value);
          const shown = fe.all();
          const figures = shown.filter((d) => (d as MimeBundle)["application/vnd.plotly.v1+json"] !== undefined).length;
          const loaders = shown.filter(isLoader).length;
          sent += fe.loadersSent;
          fe.loadersSent = 0;
          figuresSent += fe.figuresSent;
          fe.figuresSent = 0;
          maxCopies = Math.max(maxCopies, loaders);
          // A cell that ends with a clear pending may leave the notebook without plotly.js until the next cell.
          if (!waitPending) assert.ok(figures === 0 || loaders >= 1, `step ${step}: ${figures} figure(s) and no plotly.js`);
          for (const [id, area] of fe.areas) assert.ok(area.filter((o) => isLoader(o.data)).length <= 1, `step ${step}: cell ${id} holds plotly.js twice`);
        }
        assert.ok(maxCopies <= 2, `${maxCopies} copies of plotly.js at once`);
        assert.ok(sent <= figuresSent / 3 + 2, `plotly.js sent ${sent} times for ${figuresSent} figures`);
      });
    }
  });
});
