"""http-hello: a wasi:http/proxy handler in Python.

Answers every request with 200, the body "Hello from Python!\n", the
headers content-type: text/plain and x-hello: nebula, and the request's
method and path echoed back as x-request-method and x-request-path. Logs
one line per request on stderr.

componentize-py exports IncomingHandler.handle as
wasi:http/incoming-handler; the classes come from the bindings it
generates for the world (wit_world).
"""
import sys

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

BODY = b"Hello from Python!\n"


def method_name(method: Method) -> str:
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()  # Method_Get -> GET


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        method = method_name(request.method())
        path = request.path_with_query() or "/"
        print(f"http-hello: {method} {path}", file=sys.stderr)

        headers = Fields.from_list([
            ("content-type", b"text/plain; charset=utf-8"),
            ("x-hello", b"nebula"),
            ("x-request-method", method.encode()),
            ("x-request-path", path.encode()),
        ])
        response = OutgoingResponse(headers)
        response.set_status_code(200)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        # The stream is a child of the body: drop it before finishing.
        with body.write() as stream:
            stream.blocking_write_and_flush(BODY)
        OutgoingBody.finish(body, None)
