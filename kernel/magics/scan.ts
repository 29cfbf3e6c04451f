/**
 * Finds the magics of a cell with TypeScript's own scanner, so that `%` in
 * strings, comments, template literals and regular expressions is never
 * taken for a magic.
 *
 * A `%name` is a magic where a statement or an assigned value starts: at the
 * start of a line, after `{`, `;` or `=>`, and after `=` or `return`. `%` can
 * start no TypeScript statement or expression, so only one place is
 * ambiguous: a line start after a line whose expression may go on (`a\n%b`
 * is `a % b` when b is no magic). Anywhere else `%` is TypeScript's
 * (`a % b`, `x %= 3`).
 *
 * A line whose first token is `!` where a statement starts (not where an
 * operand is expected: `x =\n  !done` stays TypeScript) is a shell command,
 * IPython's `!cmd`, to the end of the line: `%system` with the line as
 * written. A statement that really starts with `!` is written `;!x` or `(!x)`.
 */
import { typescript } from "../tslab-adapter";

interface Scanner {
  scan(): number;
  getTokenPos(): number;
  getTextPos(): number;
  hasPrecedingLineBreak(): boolean;
  reScanTemplateToken(isTaggedTemplate: boolean): number;
  reScanSlashToken(): number;
  setTextPos(pos: number): void;
}

interface Ts {
  createScanner(target: number, skipTrivia: boolean, variant: number, text: string): Scanner;
  SyntaxKind: Record<string, number>;
  ScriptTarget: Record<string, number>;
  LanguageVariant: Record<string, number>;
}

let kinds: Record<string, number> | undefined;
/** SyntaxKind numbers by name (they change between TypeScript versions, names do not). */
function K(): Record<string, number> {
  kinds ??= (typescript() as unknown as Ts).SyntaxKind;
  return kinds;
}

/** The kind the lexer gives a magic it skipped: it stands where an expression ended. */
const MAGIC = -1;

/** Kinds after which `/` divides and a line break may continue the expression. */
function endsExpression(kind: number | undefined, braceEnds: boolean): boolean {
  if (kind === undefined) return false;
  const k = K();
  const enders = [
    k.Identifier, k.PrivateIdentifier, k.NumericLiteral, k.BigIntLiteral, k.StringLiteral, k.NoSubstitutionTemplateLiteral,
    k.TemplateTail, k.RegularExpressionLiteral, k.CloseParenToken, k.CloseBracketToken, k.PlusPlusToken, k.MinusMinusToken,
    k.ThisKeyword, k.SuperKeyword, k.TrueKeyword, k.FalseKeyword, k.NullKeyword, MAGIC,
  ];
  return enders.includes(kind) || (braceEnds && kind === k.CloseBraceToken);
}

export interface Lexeme {
  kind: number;
  start: number;
  end: number;
  lineBreakBefore: boolean;
  /** A `)`, `]` or `}` that closes nothing opened since the lexer started. */
  unbalanced: boolean;
}

/**
 * TypeScript's tokens of a cell from an offset on, with the two
 * context-dependent ones resolved: a `}` that continues a template literal,
 * and a `/` that starts a regular expression.
 */
export class Lexer {
  private readonly scanner: Scanner;
  /** Brackets open: "(", "[", "{", or "${" inside a template literal. */
  private readonly open: string[] = [];
  /** Kind of the last token (MAGIC after skipTo). */
  prev: number | undefined;

  constructor(src: string, start = 0) {
    const ts = typescript() as unknown as Ts;
    this.scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, src);
    this.scanner.setTextPos(start);
  }

  get depth(): number {
    return this.open.length;
  }

  next(): Lexeme | undefined {
    const k = K();
    const s = this.scanner;
    let kind = s.scan();
    if (kind === k.EndOfFileToken) return undefined;
    let unbalanced = false;
    const close = () => {
      if (this.open.length === 0) unbalanced = true;
      else this.open.pop();
    };
    if (kind === k.OpenParenToken) this.open.push("(");
    else if (kind === k.OpenBracketToken) this.open.push("[");
    else if (kind === k.OpenBraceToken) this.open.push("{");
    else if (kind === k.TemplateHead) this.open.push("${");
    else if (kind === k.CloseParenToken) close();
    else if (kind === k.CloseBracketToken) close();
    else if (kind === k.CloseBraceToken) {
      if (this.open[this.open.length - 1] === "${") {
        kind = s.reScanTemplateToken(false);
        if (kind === k.TemplateTail) this.open.pop();
      } else close();
    } else if ((kind === k.SlashToken || kind === k.SlashEqualsToken) && !endsExpression(this.prev, true)) {
      kind = s.reScanSlashToken();
    }
    this.prev = kind;
    return { kind, start: s.getTokenPos(), end: s.getTextPos(), lineBreakBefore: s.hasPrecedingLineBreak(), unbalanced };
  }

  /** Goes on at `pos`, past text that is not TypeScript (a magic's arguments), which counts as an expression. */
  skipTo(pos: number): void {
    this.scanner.setTextPos(pos);
    this.prev = MAGIC;
  }
}

/**
 * Where a magic's TypeScript code (the `%time` / `%timeit` argument) that
 * starts at `start` ends: before a line break outside brackets, or before a
 * `)`, `]` or `}` it did not open. Trailing comments are not part of it.
 */
export function codeEnd(src: string, start: number): number {
  const lexer = new Lexer(src, start);
  let end = start;
  for (let depth = 0, lex = lexer.next(); lex; depth = lexer.depth, lex = lexer.next()) {
    if (lex.unbalanced || (lex.lineBreakBefore && depth === 0)) break;
    end = lex.end;
  }
  return end;
}

/** How a magic stands: as a statement, as the value of `=` / `return`, or as the body of `=>` (no await there). */
export type Placement = "statement" | "value" | "arrow";

export interface MagicSite {
  /** Offset of the `%`. */
  start: number;
  name: string;
  /** Offset after the name and any `?` (where the arguments start). */
  argsStart: number;
  /** `%name?` or `%name??`. */
  help: boolean;
  placement: Placement;
  /** A line start after a line whose expression may go on: `a\n%b` is a modulo if b is no magic. */
  mayBeModulo: boolean;
  /** Brackets open around it (0: at the top level of the cell). */
  depth: number;
  /** A `!cmd` line: `name` is "system" and the command runs from `argsStart` to the end of the line. */
  shell?: boolean;
}

/** The name a `!cmd` line stands for. */
export const SHELL_MAGIC = "system";

/** Whether a line starting after a token of kind `prev` starts a statement (ASI ends whatever came before). */
function startsStatement(prev: number | undefined): boolean {
  const k = K();
  return prev === undefined || prev === k.SemicolonToken || prev === k.OpenBraceToken || endsExpression(prev, true);
}

function lineEndOf(src: string, pos: number): number {
  const i = src.indexOf("\n", pos);
  return i < 0 ? src.length : i;
}

const NAME = /([A-Za-z_][A-Za-z0-9_]*)(\?{1,2})?(?=[\s;)\]}]|\/\/|$)/y;
const MAYBE_NAME = /([A-Za-z_][A-Za-z0-9_]*)?(\?{1,2})?(?=[\s;)\]}]|\/\/|$)/y;

/**
 * Calls `visit` for each `%name` of `src` (from offset `from`) that stands
 * where a magic may (see the file comment). `visit` returns the offset where
 * the magic ends, and scanning goes on there; or undefined when it is not a
 * magic, and `%` stays TypeScript's. With `emptyNames`, a `%` with no name
 * yet is visited too (for completion).
 */
export function scanMagics(src: string, from: number, visit: (site: MagicSite) => number | undefined, emptyNames = false): void {
  const k = K();
  const lexer = new Lexer(src, from);
  for (let lex = lexer.next(), before: number | undefined; lex; lex = lexer.next()) {
    const prev = before;
    before = lex.kind;
    if (lex.kind === k.ExclamationToken && (prev === undefined || lex.lineBreakBefore) && startsStatement(prev)) {
      const end = lineEndOf(src, lex.start);
      const site: MagicSite = { start: lex.start, name: SHELL_MAGIC, argsStart: lex.start + 1, help: false, placement: "statement", mayBeModulo: false, depth: lexer.depth, shell: true };
      lexer.skipTo(visit(site) ?? end);
      before = MAGIC;
      continue;
    }
    if (lex.kind !== k.PercentToken) continue;
    const arrow = prev === k.EqualsGreaterThanToken;
    const value = prev === k.EqualsToken || prev === k.ReturnKeyword;
    const statement = prev === undefined || prev === k.OpenBraceToken || prev === k.SemicolonToken || lex.lineBreakBefore;
    if (!arrow && !value && !statement) continue;
    const re = emptyNames ? MAYBE_NAME : NAME;
    re.lastIndex = lex.start + 1;
    const m = re.exec(src);
    if (!m) continue;
    const site: MagicSite = {
      start: lex.start,
      name: m[1] ?? "",
      argsStart: lex.start + 1 + m[0].length,
      help: m[2] !== undefined,
      placement: arrow ? "arrow" : value ? "value" : "statement",
      // After a magic's line the expansion ends the statement with `;`.
      mayBeModulo: !arrow && !value && prev !== MAGIC && endsExpression(prev, false),
      depth: lexer.depth,
    };
    const end = visit(site);
    if (end !== undefined) {
      lexer.skipTo(end);
      before = MAGIC;
    }
  }
}
