// fibonacci: the n-th Fibonacci number, exact, computed iteratively.
//
// Input:  one whole number n, 0 <= n <= 10000 (F(0) = 0, F(1) = 1), with
//         optional sign and surrounding whitespace ("90", "+90", " 90\n").
// Output: F(n) in decimal, every digit (F(90) = 2880067194370816120,
//         F(10000) has 2090 digits), as a BigInt.
//
// The logic only: both entry points (src/wasm.js for the component,
// src/node.js for the Docker image) run it. The input rules and messages
// are those of the C examples (examples/common/nebula_fn.h).

export const name = 'fibonacci';

const kUsage = 'send one whole number n with 0 <= n <= 10000, e.g. "90"';
const kMaxN = 10000;
const kMaxInput = 1024;

// Bad input: the entry points print "<name>: <problem>; <usage>" on stderr
// and exit with 2 (1 in a component, see src/wasm.js).
export class BadInput extends Error {
  constructor(problem, usage = kUsage) {
    super(`${name}: ${problem}; ${usage}`);
    this.name = 'BadInput';
  }
}

// Whitespace as C's isspace sees it: space, \t, \n, \v, \f, \r.
function isSpace(c) {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c) {
  return c >= 0x30 && c <= 0x39;
}

// The body split at whitespace into tokens (Uint8Arrays).
function tokens(input) {
  const out = [];
  let i = 0;
  for (;;) {
    while (i < input.length && isSpace(input[i])) ++i;
    if (i === input.length) return out;
    const start = i;
    while (i < input.length && !isSpace(input[i])) ++i;
    out.push(input.subarray(start, i));
  }
}

// A token made safe to quote in a message: at most 32 bytes, unprintable
// bytes as '?', and "..." after a cut.
function shown(token) {
  let s = '';
  for (const c of token.subarray(0, 32)) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  return token.length > 32 ? `${s}...` : s;
}

// A whole decimal number ("42", "-7", "+3") with min <= value <= max.
function parseWhole(token, what, min, max) {
  const negative = token[0] === 0x2d;  // '-'
  const digits = token.subarray(token[0] === 0x2b || negative ? 1 : 0);  // after '+' or '-'
  if (digits.length === 0 || !digits.every(isDigit)) {
    throw new BadInput(`"${shown(token)}" is not a whole number`);
  }
  const magnitude = BigInt(String.fromCharCode(...digits));
  const value = negative ? -magnitude : magnitude;
  if (value < BigInt(min) || value > BigInt(max)) {
    throw new BadInput(`${what} = ${shown(token)} is out of range`);
  }
  return Number(value);
}

// handle(input: Uint8Array, log: (text: string | Uint8Array) => void)
//   -> string, the answer; throws BadInput.
export function handle(input) {
  if (input.length > kMaxInput) throw new BadInput(`the input is longer than ${kMaxInput} bytes`);
  const words = tokens(input);
  if (words.length === 0) throw new BadInput('no input');
  if (words.length > 1) throw new BadInput(`expected 1 number, got ${words.length}`);
  const n = parseWhole(words[0], 'n', 0, kMaxN);

  // Invariant: after k steps, a = F(k) and b = F(k + 1).
  let a = 0n;
  let b = 1n;
  for (let k = 0; k < n; ++k) [a, b] = [b, a + b];
  return `${a}\n`;
}
