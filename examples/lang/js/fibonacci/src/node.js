// The Docker entry point: the same function under Node.js. The body is
// stdin, the answer goes to stdout and logs to stderr; bad input exits with
// 2, and any other exception is left uncaught, so that Node prints it and
// exits with 1.
import { readFileSync } from 'node:fs';

import { BadInput, handle } from './function.js';

const input = readFileSync(0);
let output;
try {
  output = handle(input, (text) => process.stderr.write(text));
} catch (e) {
  if (!(e instanceof BadInput)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 2;
}
if (output !== undefined) process.stdout.write(output);
