/**
 * Finds which lines of a cell start in plain code, as opposed to inside a
 * block comment, a template literal or a string continued with a backslash.
 * The kernel's is_complete check uses it: a cell whose last line starts
 * inside a template literal or comment is incomplete. (Where magics stand is
 * found by scan.ts, with TypeScript's scanner.)
 */
export function codeLineStarts(src: string): boolean[] {
  const out: boolean[] = [true];
  // A stack of contexts: "code" (inside `${ ... }` too), "template", "block".
  const stack: ("code" | "template" | "block")[] = ["code"];
  let braces: number[] = [0]; // brace depth per code context, to find the `}` closing `${`
  let quote: string | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    const top = stack[stack.length - 1];
    if (c === "\n") {
      if (quote && src[i - 1] !== "\\") quote = null; // unterminated string: the line ends it
      out.push(top === "code" && quote === null);
      continue;
    }
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (top === "block") {
      if (c === "*" && src[i + 1] === "/") {
        stack.pop();
        i++;
      }
      continue;
    }
    if (top === "template") {
      if (c === "\\") i++;
      else if (c === "`") stack.pop();
      else if (c === "$" && src[i + 1] === "{") {
        stack.push("code");
        braces.push(0);
        i++;
      }
      continue;
    }
    // code
    if (c === "/" && src[i + 1] === "/") {
      while (i + 1 < src.length && src[i + 1] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      stack.push("block");
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "`") {
      stack.push("template");
    } else if (c === "{") {
      braces[braces.length - 1]++;
    } else if (c === "}") {
      if (braces[braces.length - 1] === 0 && stack.length > 1) {
        stack.pop();
        braces = braces.slice(0, -1);
      } else {
        braces[braces.length - 1]--;
      }
    }
  }
  return out;
}
