/**
 * A static HTTP server on 127.0.0.1 (random port) for the browser tests:
 * a fixed table of paths, each a file on disk or bytes in memory.
 */
import { promises as fs } from "fs";
import * as http from "http";
import type { AddressInfo } from "net";

/** One path the server answers: a file to read, or the body itself. */
export type Route = { file: string; type: string } | { body: Uint8Array | string; type: string };

export interface StaticServer {
  /** "http://127.0.0.1:<port>" */
  origin: string;
  /** The paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Starts a server answering GET for the routes, 404 for anything else.
 *
 * @param routes path ("/index.html") → route
 * @param headers sent with every answer besides content-type and
 *   cache-control (bench/threads.ts sends COOP/COEP, so that the page is
 *   cross-origin isolated)
 * @returns its origin and a close function
 * @example
 *   const s = await serve({ "/": { body: "<p>hi</p>", type: "text/html" } });
 *   await s.close();
 */
export async function serve(routes: Record<string, Route>, headers: Record<string, string> = {}): Promise<StaticServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(url.pathname);
    const route = routes[url.pathname];
    if (req.method !== "GET" || route === undefined) {
      res.writeHead(req.method !== "GET" ? 405 : 404, { ...headers, "content-type": "text/plain" });
      res.end(req.method !== "GET" ? "GET only" : "not found");
      return;
    }
    const body = "file" in route ? fs.readFile(route.file) : Promise.resolve(route.body);
    body.then(
      (b) => {
        res.writeHead(200, { ...headers, "content-type": route.type, "cache-control": "no-store" });
        res.end(b);
      },
      (e: Error) => {
        res.writeHead(500, { ...headers, "content-type": "text/plain" });
        res.end(e.message);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
