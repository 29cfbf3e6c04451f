/**
 * The Jupyter wire format (messaging spec 5.3, "The Wire Protocol"):
 * [zmq identities..., "<IDS|MSG>", hmac, header, parent_header, metadata, content, buffers...]
 * The HMAC covers the four JSON frames in that order.
 */
import { createHmac, randomUUID } from "crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  identities: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** Signs and checks messages with the connection file's key. */
export class Signer {
  constructor(private readonly key: string, private readonly scheme = "hmac-sha256") {}

  sign(frames: readonly (string | Buffer)[]): string {
    if (!this.key) return "";
    const algo = this.scheme.replace(/^hmac-/, "");
    const h = createHmac(algo, this.key);
    for (const f of frames) h.update(f);
    return h.digest("hex");
  }
}

/** Parses raw frames; returns undefined for a message with a bad signature or shape. */
export function decode(frames: Buffer[], signer: Signer): Message | undefined {
  const at = frames.findIndex((f) => f.toString() === DELIMITER);
  if (at < 0 || frames.length < at + 6) return undefined;
  const [sig, header, parent, metadata, content] = frames.slice(at + 1, at + 6);
  if (signer.sign([header, parent, metadata, content]) !== sig.toString()) return undefined;
  return {
    identities: frames.slice(0, at),
    header: JSON.parse(header.toString()),
    parent_header: JSON.parse(parent.toString()),
    metadata: JSON.parse(metadata.toString()),
    content: JSON.parse(content.toString()),
    buffers: frames.slice(at + 6),
  };
}

/** Builds the frames of a new message of `msgType` answering (or caused by) `parent`. */
export function encode(
  signer: Signer,
  msgType: string,
  content: unknown,
  parent: Message | undefined,
  identities: Buffer[] = parent?.identities ?? [],
  metadata: Record<string, unknown> = {},
): Buffer[] {
  const header: Header = {
    msg_id: randomUUID(),
    session: parent?.header.session ?? SESSION,
    username: parent?.header.username ?? "slimlab",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
  const json = [header, parent?.header ?? {}, metadata, content].map((x) => JSON.stringify(x));
  return [...identities, Buffer.from(DELIMITER), Buffer.from(signer.sign(json)), ...json.map((s) => Buffer.from(s))];
}

/** This kernel process's session id, used for messages with no parent (e.g. the first status). */
const SESSION = randomUUID();
