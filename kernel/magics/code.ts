/**
 * The TypeScript argument of `%time`, `%timeit` and their cell forms, as the
 * async function the magic calls.
 */
import { typescript } from "../tslab-adapter";

interface Node {
  kind: number;
  pos: number;
  end: number;
  expression?: Node & { operatorToken?: { kind: number } };
  getStart(file: unknown): number;
}

interface Ts {
  createSourceFile(file: string, text: string, target: number): { statements: readonly Node[] };
  SyntaxKind: Record<string, number>;
  ScriptTarget: Record<string, number>;
}

/**
 * `code` as `async () => { ... }`. A cell body keeps its own lines inside
 * the closure (line numbers stay right); the closing brace follows U+2028, a
 * line terminator for JavaScript (it ends a trailing // comment, ECMA-262
 * "Line Terminators") that split("\n") does not count, so the expansion
 * keeps the cell's line count. With `returnsValue`, a last statement that is
 * an expression (not an assignment, as in IPython) becomes the function's
 * value: `%time f()` gives f()'s value.
 */
export function codeClosure(code: string, cellBody: boolean, returnsValue: boolean): string {
  if (cellBody) return `async () => {\n${code}\u2028}`;
  if (returnsValue) {
    const ts = typescript() as unknown as Ts;
    const k = ts.SyntaxKind;
    const file = ts.createSourceFile("magic.ts", code, ts.ScriptTarget.Latest);
    const last = file.statements[file.statements.length - 1];
    const expr = last?.kind === k.ExpressionStatement ? last.expression : undefined;
    const op = expr?.kind === k.BinaryExpression ? expr.operatorToken?.kind ?? -1 : -1;
    const assignment = op >= k.FirstAssignment && op <= k.LastAssignment;
    if (last && expr && !assignment) {
      const start = last.getStart(file);
      return `async () => { ${code.slice(0, start)}return (${code.slice(expr.getStart(file), expr.end)});${code.slice(last.end)} }`;
    }
  }
  return `async () => { ${code} }`;
}
