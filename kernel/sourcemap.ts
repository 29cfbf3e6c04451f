/**
 * Maps a line of the JavaScript a cell became back to the line the user
 * wrote. tslab converts in two steps (TypeScript → ES module → CommonJS);
 * the adapter asks both for inline source maps (Source Map v3, "mappings"
 * in base64 VLQ), and this file composes them.
 */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** One decoded segment: generated column → source line and column. */
interface Segment {
  col: number;
  srcLine: number;
  srcCol: number;
}

/** Decodes a "mappings" string into segments per generated line. */
export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let srcLine = 0;
  let srcCol = 0;
  let srcIdx = 0;
  for (const lineText of mappings.split(";")) {
    const segs: Segment[] = [];
    let col = 0;
    for (const segText of lineText.split(",")) {
      if (!segText) continue;
      const values: number[] = [];
      let shift = 0;
      let acc = 0;
      for (const ch of segText) {
        const digit = B64.indexOf(ch);
        acc += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          values.push(acc & 1 ? -(acc >>> 1) : acc >>> 1);
          acc = 0;
          shift = 0;
        }
      }
      col += values[0];
      if (values.length >= 4) {
        srcIdx += values[1];
        srcLine += values[2];
        srcCol += values[3];
        segs.push({ col, srcLine, srcCol });
      }
    }
    lines.push(segs);
  }
  void srcIdx;
  return lines;
}

function lookup(map: Segment[][], line: number, col: number): { line: number; column: number } | undefined {
  const segs = map[line];
  if (!segs || segs.length === 0) return undefined;
  let best = segs[0];
  for (const s of segs) if (s.col <= col) best = s;
  return { line: best.srcLine, column: best.srcCol };
}

const INLINE = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)/g;

export class SourceMapper {
  /** `maps[0]` maps the final JavaScript to the previous step, and so on to the TypeScript. */
  private constructor(private readonly maps: Segment[][][], private readonly lineOffset: number) {}

  /**
   * Reads the inline maps of converted output (the last one is the outermost
   * step). `lineOffset` is the number of lines the converter put before the
   * user's code (tslab prefixes one: `export {};`).
   */
  static fromOutput(output: string, lineOffset = 1): SourceMapper | undefined {
    const found = [...output.matchAll(INLINE)].map((m) => JSON.parse(Buffer.from(m[1], "base64").toString("utf8")) as { mappings: string });
    if (found.length === 0) return undefined;
    return new SourceMapper(found.reverse().map((m) => decodeMappings(m.mappings)), lineOffset);
  }

  /** The 0-based line and column in the cell for a 0-based position in the output. */
  original(line: number, column: number): { line: number; column: number } | undefined {
    let at: { line: number; column: number } | undefined = { line, column };
    for (const map of this.maps) {
      at = lookup(map, at.line, at.column);
      if (!at) return undefined;
    }
    return { line: Math.max(0, at.line - this.lineOffset), column: at.column };
  }
}
