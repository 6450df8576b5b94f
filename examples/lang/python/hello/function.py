"""hello: the smallest Nebula function, in Python.

Input:  an optional name on stdin (surrounding whitespace is ignored, at most
        100 bytes, no control characters).
Output: "Hello, <name>!" on stdout or, for an empty body, "Hello, World!".
Logs one line on stderr. Exit 0 on success, 2 on bad input with
"hello: <problem>; <usage>" on stderr.

The same module runs as a wasi:cli/command component (component.py calls
main()) and in a container (python3 function.py). It works on bytes, so a
name that is not UTF-8 comes back unchanged.
"""
import sys

NAME = "hello"
MAX_NAME = 100
TOO_LONG = 'send a short name, e.g. "Ada"'
ONE_LINE = 'send one line of text, e.g. "Ada"'
SPACE = b" \t\n\r\v\f"  # what C's isspace() calls whitespace


def bad_input(usage: str, problem: str) -> int:
    sys.stderr.write(f"{NAME}: {problem}; {usage}\n")
    return 2


def main() -> int:
    # A few bytes more than allowed, so that surrounding whitespace is
    # trimmed first but "too long" is still told apart without reading more.
    body = sys.stdin.buffer.read(MAX_NAME + 65)
    if len(body) > MAX_NAME + 64:
        return bad_input(TOO_LONG, f"the name is longer than {MAX_NAME} bytes")
    name = body.strip(SPACE)
    if len(name) > MAX_NAME:
        return bad_input(TOO_LONG, f"the name is longer than {MAX_NAME} bytes")
    if any(c < 0x20 or c == 0x7F for c in name):
        return bad_input(ONE_LINE, "the name contains a control character")
    name = name or b"World"

    sys.stderr.flush()
    sys.stderr.buffer.write(b"%s: greeting %s\n" % (NAME.encode(), name))
    sys.stderr.buffer.flush()
    try:
        sys.stdout.buffer.write(b"Hello, %s!\n" % name)
        sys.stdout.buffer.flush()
    except OSError:
        return 1  # stdout cannot be written: a closed pipe, a full disk
    return 0


if __name__ == "__main__":
    sys.exit(main())
