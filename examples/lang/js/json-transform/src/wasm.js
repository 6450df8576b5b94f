// The wasm entry point: exports wasi:cli/run, built into a wasi:cli/command
// component by componentize-js (see wit/world.wit).
//
// The JavaScript engine inside the component (StarlingMonkey) has no
// `process`: the body is read from wasi:cli/stdin, the answer written to
// wasi:cli/stdout and logs to wasi:cli/stderr, all wasi:io streams, and a
// failed run ends through wasi:cli/exit. WASI 0.2 knows only success and
// failure, so bad input exits with 1 here where the Docker image exits with 2;
// the message on stderr is the same.
import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { exit } from 'wasi:cli/exit@0.2.12';

import { BadInput, handle } from './function.js';

const encoder = new TextEncoder();

// The whole of an input stream. A failed read throws with
// payload {tag: 'closed'} at the end of the stream.
function readAll(stream) {
  const chunks = [];
  let size = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(65536n);
    } catch (e) {
      if (e?.payload?.tag === 'closed') break;
      throw e;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

// Writes text or bytes to an output stream; blocking-write-and-flush takes
// at most 4096 bytes a call.
function writeAll(stream, data) {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  for (let at = 0; at < bytes.length; at += 4096) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
  }
}

export const run = {
  run() {
    const stderr = getStderr();
    try {
      const input = readAll(getStdin());
      let output;
      try {
        output = handle(input, (text) => writeAll(stderr, text));
      } catch (e) {
        if (!(e instanceof BadInput)) throw e;
        writeAll(stderr, `${e.message}\n`);
        exit({ tag: 'err' });
      }
      writeAll(getStdout(), output);
    } catch (e) {
      // An exception leaving run becomes run's error result (exit code 1),
      // but nothing would say why: print it, then let it go on.
      writeAll(stderr, `Uncaught ${e}\n${e?.stack ?? ''}`);
      throw e;
    }
  },
};
