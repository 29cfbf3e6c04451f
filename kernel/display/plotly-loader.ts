/**
 * Keeps exactly one copy of plotly.js in a notebook's outputs, as plotly.py's
 * notebook renderer does with its init_notebook_mode output: the loader goes
 * out as a display_data of its own right before the first figure, and is
 * never updated (a live figure's update_display_data would replace it).
 *
 * The copy lives in the output area of the cell that carried it (the
 * "carrier"), so it is gone when that area is cleared: by the cell itself
 * (clear_output), or by the frontend when the cell runs again. The tracker
 * follows both: the cell that removed it sends the loader again, once, as
 * its last output (not before each of its figures: a cell animating with
 * clear_output(wait) + display would send plotly.js with every frame; the
 * live page keeps window.Plotly anyway, and a figure waits for a loader that
 * comes later in the document). A re-run is recognised by the cell's
 * JupyterLab/Notebook 7 cellId or, for frontends that send none (classic
 * Notebook), by the same code. Silent requests (a frontend's own queries)
 * reach no output area: they neither carry the loader nor clear it.
 *
 * A cell that ends with a clear_output(wait) pending sends nothing at its end
 * (that output would apply the clear and blank the cell); whether printed
 * text applied it the kernel cannot see, so if the cell carried the loader,
 * the next cell sends it (before its first figure, or at its end). Erring
 * this way costs an extra copy, never a blank chart.
 */
import { isFigureBundle } from "../../plugins/core/plotly-html";
import { MimeBundle } from "../../plugins/core/host";

/** What identifies a cell across runs. */
export interface CellIdentity {
  cellId?: string;
  code?: string;
  /** A silent execute_request: its outputs reach no output area. */
  silent?: boolean;
}

/** The cellId (JupyterLab, Notebook 7: execute_request metadata), code and silence of a request, if `tag` is one. */
export function identityOf(code: string, tag: unknown): CellIdentity {
  const msg = tag as { metadata?: { cellId?: unknown }; content?: { silent?: unknown } } | undefined;
  const cellId = msg?.metadata?.cellId;
  return { cellId: typeof cellId === "string" ? cellId : undefined, code, silent: msg?.content?.silent === true };
}

function sameCell(a: CellIdentity, b: CellIdentity): boolean {
  if (a.cellId !== undefined || b.cellId !== undefined) return a.cellId === b.cellId;
  return a.code !== undefined && a.code === b.code;
}

export class LoaderTracker {
  private cell = 0;
  private current: CellIdentity = {};
  /** The cell whose outputs hold plotly.js, as far as the kernel knows. */
  private carrier: { cell: number; id: CellIdentity } | undefined;
  /** The running cell removed the carrier's output: it sends the loader at its end, not before each figure. */
  private lostHere = false;
  private waitClearPending = false;
  private figuresShown = false;

  /** A cell starts: the frontend has cleared its output area if it ran before. */
  newCell(id: CellIdentity = {}): void {
    this.cell++;
    this.current = id;
    this.lostHere = false;
    this.waitClearPending = false;
    if (id.silent) return;
    if (this.carrier && sameCell(this.carrier.id, id)) {
      this.carrier = undefined;
      this.lostHere = true;
    }
  }

  /** True when the loader must be sent right before this bundle (a display_data, a live display or the cell's result). */
  beforeOutput(bundle: MimeBundle): boolean {
    if (this.current.silent) return false;
    if (this.waitClearPending) {
      this.waitClearPending = false;
      this.cleared();
    }
    if (!isFigureBundle(bundle)) return false;
    this.figuresShown = true;
    if (this.carrier || this.lostHere) return false;
    this.carrier = { cell: this.cell, id: this.current };
    return true;
  }

  /** The running cell sent clear_output. */
  clearOutput(wait: boolean): void {
    if (this.current.silent) return;
    if (wait) this.waitClearPending = true;
    else this.cleared();
  }

  /** The cell ended: true when the loader must be sent now, as its last output. */
  endCell(): boolean {
    if (this.current.silent) return false;
    if (this.waitClearPending) {
      // Printed text may have applied the clear, and an output sent now would apply it: let a later cell send the loader.
      if (this.carrier?.cell === this.cell) this.carrier = undefined;
      return false;
    }
    if (this.carrier || !this.figuresShown) return false;
    this.carrier = { cell: this.cell, id: this.current };
    return true;
  }

  private cleared(): void {
    if (this.carrier?.cell !== this.cell) return;
    this.carrier = undefined;
    this.lostHere = true;
  }
}
