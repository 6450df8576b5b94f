// http-hello: the smallest HTTP function, in JavaScript. Answers every
// request, whatever the method or path, with 200, a greeting and its own
// header.
//
// handle(request) -> response, plain objects (src/wasm.js turns the
// wasi:http request into one and the answer into a wasi:http response):
//   request:  { method: 'GET', path: '/a?b=c', headers: [[name, value]...], body: Uint8Array }
//   response: { status: 200, headers: { name: value, ... }, body: string | Uint8Array }
export function handle(request) {
  return {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-hello': 'nebula' },
    body: 'Hello from JavaScript!\n',
  };
}
