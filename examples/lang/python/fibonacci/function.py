"""fibonacci: the n-th Fibonacci number, exact, computed iteratively.

Input:  one whole number n on stdin, 0 <= n <= 10000 ("90", "+7", with any
        whitespace around; F(0) = 0, F(1) = 1).
Output: F(n) in decimal, every digit (F(90) = 2880067194370816120, F(10000)
        has 2090 digits). Exit 0 on success, 2 on bad input with
        "fibonacci: <problem>; <usage>" on stderr.

The same module runs as a wasi:cli/command component (component.py calls
main()) and in a container (python3 function.py). Python's integers are
exact at any size, so the sum needs no big-number code.
"""
import sys

NAME = "fibonacci"
USAGE = 'send one whole number n with 0 <= n <= 10000, e.g. "90"'
MAX_N = 10000
MAX_INPUT = 1024  # bytes: a number and some whitespace


class BadInput(Exception):
    """Bad input: main() reports it as "fibonacci: <problem>; <usage>", exit 2."""


def shown(token: bytes) -> str:
    """The token made safe to quote: at most 32 bytes, unprintable bytes as
    '?', and "..." after a cut."""
    text = "".join(chr(c) if 0x20 <= c < 0x7F else "?" for c in token[:32])
    return text + "..." if len(token) > 32 else text


def parse_n(body: bytes) -> int:
    if len(body) > MAX_INPUT:
        raise BadInput(f"the input is longer than {MAX_INPUT} bytes")
    tokens = body.split()  # on C's whitespace: space, \t \n \v \f \r
    if not tokens:
        raise BadInput("no input")
    if len(tokens) > 1:
        raise BadInput(f"expected 1 number, got {len(tokens)}")
    token = tokens[0]
    digits = token[1:] if token[:1] in (b"+", b"-") else token
    if not digits or not all(0x30 <= c <= 0x39 for c in digits):
        raise BadInput(f'"{shown(token)}" is not a whole number')
    n = -int(digits) if token[:1] == b"-" else int(digits)
    if not 0 <= n <= MAX_N:
        raise BadInput(f"n = {shown(token)} is out of range")
    return n


def fibonacci(n: int) -> int:
    a, b = 0, 1  # F(k), F(k + 1)
    for _ in range(n):
        a, b = b, a + b
    return a


def main() -> int:
    try:
        # One byte more than allowed, so that "too long" can be told apart.
        n = parse_n(sys.stdin.buffer.read(MAX_INPUT + 1))
    except BadInput as problem:
        sys.stderr.write(f"{NAME}: {problem}; {USAGE}\n")
        return 2
    try:
        sys.stdout.write(f"{fibonacci(n)}\n")
        sys.stdout.flush()
    except OSError:
        return 1  # stdout cannot be written: a closed pipe, a full disk
    return 0


if __name__ == "__main__":
    sys.exit(main())
