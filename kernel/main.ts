/**
 * Starts the kernel for a Jupyter connection file (what the kernelspec's
 * argv runs). The notebook's folder is the working directory Jupyter gives.
 */
import * as fs from "fs";
import { Kernel } from "./kernel";
import { builtinsFor, prepare } from "./startup";
import { ConnectionInfo, Server } from "./server";

export async function startKernel(connectionFile: string): Promise<void> {
  const info = JSON.parse(fs.readFileSync(connectionFile, "utf8")) as ConnectionInfo;
  const server = new Server(info);
  let kernel: Kernel | undefined;
  await server.bind((forced, request, memory, sameCell) => kernel?.interrupt(forced, request, memory, sameCell));
  // The runner owns late errors from here on (guard.ts), also those of the backend's glue loaded by prepare().
  kernel = new Kernel(server, process.cwd(), builtinsFor(await prepare()));
  kernel.start();
}
