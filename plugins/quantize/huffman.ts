/**
 * Huffman coding of quantized weight indices (Deep Compression §4: the
 * index distribution is far from uniform, so a variable-length code saves
 * 20–30 %). Only code lengths matter for the size; the codes themselves
 * follow canonically from the lengths (DEFLATE, RFC 1951 §3.2.2), so a
 * decoder needs just one length per symbol.
 */

/** Code lengths, canonical codes and the coded size. */
export interface HuffmanCode {
  /** Bits of each symbol's code (0 for symbols that never occur). */
  lengths: Uint8Array;
  /** Canonical code of each symbol (read the low `lengths[s]` bits, MSB first). */
  codes: Uint32Array;
  /** Σ count·length: bits of the coded stream. */
  bits: number;
}

/**
 * Huffman code lengths of symbol counts (a min-heap of subtrees; ties
 * broken by symbol order so results are deterministic).
 *
 * @param counts occurrences per symbol
 * @returns code lengths; a single used symbol gets length 1
 * @example
 *   huffmanLengths([5, 1, 1, 2]); // [1, 3, 3, 2]
 */
export function huffmanLengths(counts: ArrayLike<number>): Uint8Array {
  const n = counts.length;
  const lengths = new Uint8Array(n);
  // Nodes: leaves 0..n-1, internal nodes after; parent links give depths.
  const weight: number[] = [];
  const order: number[] = [];
  const parent: number[] = [];
  const heap: number[] = [];
  const less = (a: number, b: number) => weight[a] < weight[b] || (weight[a] === weight[b] && order[a] < order[b]);
  const push = (x: number) => {
    heap.push(x);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  };
  for (let s = 0; s < n; s++) {
    weight.push(counts[s]);
    order.push(s);
    parent.push(-1);
    if (counts[s] > 0) push(s);
  }
  if (heap.length === 1) {
    lengths[heap[0]] = 1;
    return lengths;
  }
  while (heap.length > 1) {
    const a = pop();
    const b = pop();
    const node = weight.length;
    weight.push(weight[a] + weight[b]);
    order.push(node);
    parent.push(-1);
    parent[a] = node;
    parent[b] = node;
    push(node);
  }
  for (let s = 0; s < n; s++) {
    if (counts[s] === 0) continue;
    let d = 0;
    for (let x = s; parent[x] !== -1; x = parent[x]) d++;
    lengths[s] = d;
  }
  return lengths;
}

/**
 * The canonical Huffman code of a set of codes (quantized indices).
 *
 * @param symbols the indices to code, each in [0, alphabet)
 * @param alphabet number of possible symbols (2^bits)
 * @returns lengths, canonical codes and the coded size in bits
 * @example
 *   huffmanCode(new Uint8Array([0, 0, 0, 1]), 2).bits; // 4
 */
export function huffmanCode(symbols: ArrayLike<number>, alphabet: number): HuffmanCode {
  const counts = new Float64Array(alphabet);
  for (let i = 0; i < symbols.length; i++) counts[symbols[i]]++;
  const lengths = huffmanLengths(counts);
  // Canonical assignment: shorter codes first, then by symbol (RFC 1951 §3.2.2).
  const maxLen = lengths.reduce((a, b) => Math.max(a, b), 0);
  const perLength = new Uint32Array(maxLen + 1);
  lengths.forEach((l) => l > 0 && perLength[l]++);
  const next = new Uint32Array(maxLen + 2);
  let code = 0;
  for (let l = 1; l <= maxLen; l++) {
    code = (code + perLength[l - 1]) << 1;
    next[l] = code;
  }
  const codes = new Uint32Array(alphabet);
  for (let s = 0; s < alphabet; s++) if (lengths[s] > 0) codes[s] = next[lengths[s]]++;
  let bits = 0;
  for (let s = 0; s < alphabet; s++) bits += counts[s] * lengths[s];
  return { lengths, codes, bits };
}
