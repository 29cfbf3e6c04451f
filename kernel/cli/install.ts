/**
 * `slimlab install` / `slimlab uninstall`: registers the kernelspec
 * "slimlab" with whatever Jupyter is on PATH, through `jupyter kernelspec`,
 * so the spec lands where that Jupyter looks. argv names this installation
 * by absolute path, so notebooks in any folder start it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SlimlabError } from "../../plugins/core/errors";
import { packageRoot } from "../modules";
import { KERNEL_NODE_FLAGS } from "../node-flags";

export type InstallScope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; prefix: string } | { kind: "default" };

export const KERNEL_NAME = "slimlab";
export const DISPLAY_NAME = "TypeScript (slimlab)";

/** The kernel.json slimlab installs. */
export function kernelSpec(root = packageRoot()): Record<string, unknown> {
  return {
    argv: [process.execPath, ...KERNEL_NODE_FLAGS, path.join(root, "bin", "slimlab.js"), "kernel", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    // "message": interrupt_request arrives on control, which the watchdog thread
    // serves even while a cell keeps the main thread busy (kernel/watchdog-worker.ts).
    interrupt_mode: "message",
    metadata: { debugger: false },
  };
}

/** Runs `jupyter args...`; returns stdout and stderr together (kernelspec reports on stderr). */
function jupyter(args: string[]): string {
  const r = spawnSync("jupyter", args, { encoding: "utf8" });
  if (r.error && (r.error as { code?: string }).code === "ENOENT") {
    throw new SlimlabError("E_FILE", "no `jupyter` command on PATH; install Jupyter (conda env create -f environment.yml, pip install jupyterlab, or apt-get install jupyter-client) and run again");
  }
  if (r.status !== 0) {
    throw new SlimlabError("E_FILE", `jupyter ${args.join(" ")} failed: ${`${r.stderr ?? ""}`.trim().split("\n").pop()}`);
  }
  return `${r.stdout}\n${r.stderr}`;
}

function scopeArgs(scope: InstallScope): string[] {
  if (scope.kind === "user") return ["--user"];
  if (scope.kind === "sys-prefix") return ["--sys-prefix"];
  if (scope.kind === "prefix") return ["--prefix", path.resolve(scope.prefix)];
  return [];
}

/** Installs the kernelspec; returns the folder Jupyter put it in. */
export function install(scope: InstallScope): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-spec-"));
  const specDir = path.join(dir, KERNEL_NAME);
  fs.mkdirSync(specDir);
  fs.writeFileSync(path.join(specDir, "kernel.json"), JSON.stringify(kernelSpec(), null, 2));
  try {
    const out = jupyter(["kernelspec", "install", "--replace", "--name", KERNEL_NAME, ...scopeArgs(scope), specDir]);
    const m = /installed kernelspec \S+ in (.+)$/im.exec(out);
    return m ? m[1].trim() : out.trim();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function uninstall(): void {
  jupyter(["kernelspec", "remove", "-f", KERNEL_NAME]);
}

/** Parses install's flags: one of --user, --sys-prefix, --prefix P. Throws E_ARG otherwise. */
export function parseScope(args: string[]): InstallScope {
  if (args.length === 0) return { kind: "default" };
  if (args.length === 1 && args[0] === "--user") return { kind: "user" };
  if (args.length === 1 && args[0] === "--sys-prefix") return { kind: "sys-prefix" };
  if (args.length === 2 && args[0] === "--prefix") return { kind: "prefix", prefix: args[1] };
  throw new SlimlabError("E_ARG", `slimlab install: got ${JSON.stringify(args.join(" "))}; allowed: --user, --sys-prefix or --prefix PATH (one of them)`);
}
