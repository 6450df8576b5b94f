// hello: the smallest Nebula function, in JavaScript.
//
// Input:  an optional name (surrounding whitespace is ignored, at most 100
//         bytes, no control characters).
// Output: "Hello, <name>!" or, for an empty body, "Hello, World!".
// Logs one line on stderr so that log capture can be seen end to end.
//
// The logic only: it takes the body as bytes and returns the answer, and
// both entry points (src/wasm.js for the component, src/node.js for the
// Docker image) run it. The name is kept as bytes, so any bytes that are not
// control characters come back exactly as they were sent.

export const name = 'hello';

const kMaxName = 100;
const kTooLong = 'send a short name, e.g. "Ada"';

// Bad input: the entry points print "<name>: <problem>; <usage>" on stderr
// and exit with 2 (1 in a component, see src/wasm.js).
export class BadInput extends Error {
  constructor(problem, usage) {
    super(`${name}: ${problem}; ${usage}`);
    this.name = 'BadInput';
  }
}

const encoder = new TextEncoder();

// Whitespace as C's isspace sees it: space, \t, \n, \v, \f, \r.
function isSpace(c) {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function concat(...parts) {
  const arrays = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

// handle(input: Uint8Array, log: (text: string | Uint8Array) => void)
//   -> string | Uint8Array, the answer; throws BadInput.
export function handle(input, log) {
  // Even with some whitespace around it, a longer body is too long.
  if (input.length > kMaxName + 64) {
    throw new BadInput(`the name is longer than ${kMaxName} bytes`, kTooLong);
  }
  let begin = 0;
  let end = input.length;
  while (begin < end && isSpace(input[begin])) ++begin;
  while (end > begin && isSpace(input[end - 1])) --end;
  let who = input.subarray(begin, end);

  if (who.length > kMaxName) {
    throw new BadInput(`the name is longer than ${kMaxName} bytes`, kTooLong);
  }
  if (who.some((c) => c < 0x20 || c === 0x7f)) {
    throw new BadInput('the name contains a control character',
                       'send one line of text, e.g. "Ada"');
  }
  if (who.length === 0) who = encoder.encode('World');

  log(concat(`${name}: greeting `, who, '\n'));
  return concat('Hello, ', who, '!\n');
}
