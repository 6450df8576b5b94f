"""Schemathesis hooks for tests/api/schemathesis.sh.

Module uploads travel as `application/wasm`, a media type Schemathesis does
not know: send generated and example bodies as raw bytes, the same way it
sends `application/octet-stream`.
"""

import schemathesis
from schemathesis.transport.serialization import serialize_binary


@schemathesis.serializer("application/wasm")
def wasm_bytes(ctx, value):
    return serialize_binary(value)
