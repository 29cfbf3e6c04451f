/**
 * Marks notebooks that `slimlab run` wrote as trusted, as `jupyter trust`
 * does (it is what runs): the notebook's signature, an HMAC-SHA256 keyed
 * with the user's notebook secret, goes into Jupyter's signature database
 * (nbsignatures.db in Jupyter's data dir). Classic Notebook runs the scripts
 * of a trusted notebook's outputs, so its charts show when it is opened.
 */
import { spawnSync } from "child_process";

export type TrustResult = { trusted: true } | { trusted: false; why: string };

/** What to install when `jupyter trust` is missing. */
export const TRUST_INSTALL_HINT = "apt-get install jupyter-nbformat, or pip install nbformat";

/** Runs `jupyter trust files...`. */
export function trustNotebooks(files: string[], jupyter = "jupyter"): TrustResult {
  const r = spawnSync(jupyter, ["trust", ...files], { encoding: "utf8", timeout: 60000 });
  if (r.error) {
    const missing = (r.error as { code?: string }).code === "ENOENT";
    return { trusted: false, why: missing ? `no \`${jupyter}\` command on PATH (${TRUST_INSTALL_HINT})` : r.error.message };
  }
  if (r.status === 0) return { trusted: true };
  const err = `${r.stderr ?? ""}`.trim();
  if (/jupyter-trust.*not found/i.test(err)) return { trusted: false, why: `\`jupyter trust\` is not installed (${TRUST_INSTALL_HINT})` };
  return { trusted: false, why: `jupyter trust failed: ${err.split("\n").pop() ?? `exit ${r.status}`}` };
}
