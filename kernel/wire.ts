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

/** What decodeChecked found: a message, or why the frames were not one. */
export type Decoded = { ok: true; msg: Message } | { ok: false; reason: string };

/**
 * Remembers the signatures of recent messages, so a signed message sent a
 * second time (a replay) is refused, as jupyter_client's Session does.
 */
export class DigestHistory {
  private readonly seen = new Set<string>();
  constructor(private readonly size = 1 << 16) {}

  /** Records `digest`; false if it was seen before. */
  add(digest: string): boolean {
    if (this.seen.has(digest)) return false;
    if (this.seen.size >= this.size) {
      // Forget the older half (a Set iterates in insertion order).
      let drop = this.size >> 1;
      for (const d of this.seen) {
        if (drop-- <= 0) break;
        this.seen.delete(d);
      }
    }
    this.seen.add(digest);
    return true;
  }
}

/**
 * Parses raw frames and says why when they are not a valid message: no
 * delimiter, too few frames, a bad signature, a replayed signature (when a
 * history is given), or JSON that does not parse. Never throws.
 */
export function decodeChecked(frames: Buffer[], signer: Signer, history?: DigestHistory): Decoded {
  const at = frames.findIndex((f) => f.toString() === DELIMITER);
  if (at < 0) return { ok: false, reason: "no <IDS|MSG> delimiter" };
  if (frames.length < at + 6) return { ok: false, reason: `${frames.length - at - 1} frames after the delimiter, 5 needed` };
  const [sig, header, parent, metadata, content] = frames.slice(at + 1, at + 6);
  if (signer.sign([header, parent, metadata, content]) !== sig.toString()) return { ok: false, reason: "bad signature" };
  if (history && sig.length > 0 && !history.add(sig.toString())) return { ok: false, reason: "replayed message (its signature was seen before)" };
  try {
    const msg: Message = {
      identities: frames.slice(0, at),
      header: JSON.parse(header.toString()),
      parent_header: JSON.parse(parent.toString()),
      metadata: JSON.parse(metadata.toString()),
      content: JSON.parse(content.toString()),
      buffers: frames.slice(at + 6),
    };
    if (typeof msg.header !== "object" || msg.header === null || typeof msg.header.msg_type !== "string") {
      return { ok: false, reason: "header has no msg_type" };
    }
    if (typeof msg.content !== "object" || msg.content === null) return { ok: false, reason: "content is not a JSON object" };
    return { ok: true, msg };
  } catch (e) {
    return { ok: false, reason: `invalid JSON (${(e as Error).message})` };
  }
}

/** Parses raw frames; returns undefined for a message with a bad signature or shape. */
export function decode(frames: Buffer[], signer: Signer): Message | undefined {
  const r = decodeChecked(frames, signer);
  return r.ok ? r.msg : undefined;
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
