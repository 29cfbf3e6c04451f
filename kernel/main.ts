/**
 * Starts the kernel for a Jupyter connection file (what the kernelspec's
 * argv runs). The notebook's folder is the working directory Jupyter gives.
 */
import * as fs from "fs";
import { Kernel } from "./kernel";
import { builtinsFor, prepare } from "./startup";
import { ConnectionInfo, logInternal, Server } from "./server";

export async function startKernel(connectionFile: string): Promise<void> {
  const info = JSON.parse(fs.readFileSync(connectionFile, "utf8")) as ConnectionInfo;
  const server = new Server(info);
  await server.bind();
  const kernel = new Kernel(server, process.cwd(), builtinsFor(await prepare()));
  // A rejected promise a cell forgot to await must not take the kernel down.
  process.on("unhandledRejection", (e) => logInternal(e));
  process.on("uncaughtException", (e) => logInternal(e));
  kernel.start();
}
