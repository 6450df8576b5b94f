// The wasm entry point: exports wasi:http/incoming-handler, built into a
// wasi:http/proxy component by componentize-js (see wit/world.wit). It reads
// the request (method, path, headers, the whole body), asks src/function.js
// for the answer and sends it. An exception in the function answers 500
// with the error on stderr.
import {
  Fields, IncomingBody, OutgoingBody, OutgoingResponse, ResponseOutparam,
} from 'wasi:http/types@0.2.12';

import { handle } from './function.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Drops a resource now (a stream must go before the body it belongs to).
function drop(resource) {
  resource[Symbol.dispose]();
}

// The whole of an input stream; a failed read with payload {tag: 'closed'}
// is its end.
function readAll(stream) {
  const chunks = [];
  for (;;) {
    try {
      chunks.push(stream.blockingRead(65536n));
    } catch (e) {
      if (e?.payload?.tag === 'closed') break;
      throw e;
    }
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

function readRequest(incoming) {
  const method = incoming.method();
  const headers = incoming.headers().entries().map(([name, value]) => [name, decoder.decode(value)]);
  const incomingBody = incoming.consume();
  const stream = incomingBody.stream();
  const body = readAll(stream);
  drop(stream);
  IncomingBody.finish(incomingBody);
  return {
    method: method.tag === 'other' ? method.val : method.tag.toUpperCase(),
    path: incoming.pathWithQuery() ?? '/',
    headers,
    body,
  };
}

function send(responseOut, { status = 200, headers = {}, body = '' }) {
  const fields = Fields.fromList(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), encoder.encode(String(value))]));
  const response = new OutgoingResponse(fields);
  response.setStatusCode(status);
  const outgoingBody = response.body();
  ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
  const stream = outgoingBody.write();
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  // blocking-write-and-flush takes at most 4096 bytes a call.
  for (let at = 0; at < bytes.length; at += 4096) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
  }
  drop(stream);
  OutgoingBody.finish(outgoingBody, undefined);
}

export const incomingHandler = {
  handle(incoming, responseOut) {
    let answer;
    try {
      answer = handle(readRequest(incoming));
    } catch (e) {
      console.error(`Uncaught ${e}\n${e?.stack ?? ''}`);
      answer = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
    }
    send(responseOut, answer);
  },
};
