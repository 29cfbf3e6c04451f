/**
 * `%backend [name]`: shows the active TensorFlow.js backend and why each
 * better one was skipped at start; with a name, switches to it.
 */
import * as tf from "@tensorflow/tfjs";
import { MimeBundle } from "../core/host";
import { defineMagic } from "../core/magic";
import { BACKEND_NAMES, BackendAttempt, BackendName, BackendReport, switchBackend } from "./select";
import { checkWasmThreads } from "./threads";
import { SlimlabError } from "../core/errors";

/** What `%backend` returns: the start-up report, the backend in force now, and the note of a switch. */
export class BackendStatus {
  constructor(
    readonly active: string,
    readonly tried: readonly BackendAttempt[],
    readonly note?: string,
  ) {}

  toString(): string {
    const lines = [`active backend: ${this.active}`];
    if (this.note) lines.push(this.note);
    lines.push("chosen at start, best first:");
    for (const t of this.tried) lines.push(`  ${t.ok ? "✓" : "✗"} ${t.name.padEnd(13)} ${t.reason}`);
    return lines.join("\n");
  }

  toMimeBundle(): MimeBundle {
    const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    const rows = this.tried.map((t) => `<tr><td>${t.ok ? "✓" : "✗"}</td><td>${t.name}</td><td style="text-align:left">${esc(t.reason)}</td></tr>`).join("");
    const html =
      `<p>active backend: <b>${esc(this.active)}</b>${this.note ? `<br>${esc(this.note)}` : ""}</p>` +
      `<table><thead><tr><th></th><th>backend</th><th style="text-align:left">at start</th></tr></thead><tbody>${rows}</tbody></table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}

/** tfjs' name for the backend in force, in slimlab's names (tensorflow → tfjs-node or -gpu as chosen at start). */
function activeName(report: BackendReport): string {
  const tfName = tf.getBackend();
  if (tfName !== "tensorflow") return tfName;
  return report.active === "tfjs-node-gpu" ? "tfjs-node-gpu" : "tfjs-node";
}

/**
 * The `%backend` magic for a kernel whose start-up chose backends as `report` says.
 * @example registry.register(backendMagic(await selectBackend()), "builtin")
 */
export function backendMagic(report: BackendReport) {
  return defineMagic({
    name: "backend",
    summary: "Shows the active TensorFlow.js backend and why better ones were skipped; %backend NAME switches.",
    description: `Backends, best first: ${BACKEND_NAMES.join(", ")}. Switching copies nothing at once: tfjs moves each existing tensor to the new backend the first time an op there uses it.`,
    positional: [{ name: "name", help: `one of ${BACKEND_NAMES.join(", ")}`, optional: true, text: true }],
    flags: {
      threads: { type: "number", integer: true, min: 1, help: "threads for the wasm backend (only 1 works under Node: tfjs-backend-wasm's threaded build cannot start there)" },
    },
    examples: ["%backend", "%backend cpu"],
    async run([name], flags): Promise<BackendStatus> {
      if (flags.threads !== undefined) {
        if (name !== "wasm") throw new SlimlabError("E_ARG", `%backend: --threads is for the wasm backend; write %backend wasm --threads ${flags.threads}`);
        checkWasmThreads(flags.threads);
      }
      if (name === undefined) return new BackendStatus(activeName(report), report.tried);
      const note = await switchBackend(String(name));
      return new BackendStatus(activeName(report), report.tried, note);
    },
  });
}

export type { BackendName };
