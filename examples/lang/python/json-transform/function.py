"""json-transform: totals an order given as JSON.

Input:  one JSON object on stdin, an order such as
        {"customer":"Ada","items":[{"sku":"a1","qty":2,"price_cents":150}]};
        "items" (optional) is an array of objects, each with whole-number
        "qty" and "price_cents".
Output: the same object with "item_count" (how many items) and
        "total_cents" (the sum of qty * price_cents) added, as compact JSON
        with the keys sorted at every depth, non-ASCII text as UTF-8, then a
        newline. Exit 0 on success, 2 on bad input with
        "json-transform: <problem>; <usage>" on stderr.

The same module runs as a wasi:cli/command component (component.py calls
main()) and in a container (python3 function.py). Python's json keeps
integers exact at any size; other numbers come back as Python's float
prints them (1.50 as 1.5).
"""
import itertools
import json
import math
import re
import sys

NAME = "json-transform"
USAGE = 'send a JSON order, e.g. {"items":[{"qty":2,"price_cents":150}]}'
# Arrays and objects nest at most this deep. The parser and the serialiser
# recurse once per level, and in CPython built for WASI the stack can run out
# before the interpreter's recursion check stops them (a trap, not an error).
MAX_DEPTH = 500
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
NOT_BRACKET = re.compile(rb"[^][{}]+")


class BadInput(Exception):
    """Bad input: main() reports it as "json-transform: <problem>; <usage>", exit 2."""


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInput(f"the number {text[:32]} is too large")
    return value


def not_json(constant: str):
    raise BadInput(f"{constant} is not JSON")


def nesting(body: bytes) -> int:
    """How deep the brackets outside strings nest."""
    brackets = NOT_BRACKET.sub(b"", STRING.sub(b"", body))
    steps = (1 if c in b"[{" else -1 for c in brackets)
    return max(itertools.accumulate(steps), default=0)


def parse(body: bytes) -> dict:
    if body.startswith(b"\xef\xbb\xbf"):
        raise BadInput("the input starts with a byte order mark")
    try:
        text = body.decode("utf-8")  # strictly: no UTF-16 or UTF-32
    except UnicodeDecodeError:
        raise BadInput("the input is not UTF-8 text")
    if nesting(body) > MAX_DEPTH:
        raise BadInput(f"the JSON nests deeper than {MAX_DEPTH} levels")
    try:
        order = json.loads(text, parse_float=finite_float, parse_constant=not_json)
    except json.JSONDecodeError as err:
        raise BadInput(f"the input is not JSON ({err.msg} at line {err.lineno} column {err.colno})")
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise BadInput(f"the input is not usable JSON ({err})")
    if not isinstance(order, dict):
        raise BadInput("the input is not a JSON object")
    return order


def is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def transform(order: dict) -> dict:
    items = order.get("items", [])
    if not isinstance(items, list):
        raise BadInput('"items" is not an array')
    total = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadInput(f"items[{i}] is not an object")
        for key in ("qty", "price_cents"):
            if key not in item:
                raise BadInput(f"items[{i}].{key} is missing")
            if not is_integer(item[key]):
                raise BadInput(f"items[{i}].{key} is not an integer")
        total += item["qty"] * item["price_cents"]
    order["item_count"] = len(items)
    order["total_cents"] = total
    return order


def serialise(order: dict) -> bytes:
    text = json.dumps(order, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        raise BadInput("a string holds a lone UTF-16 surrogate")


def main() -> int:
    try:
        answer = serialise(transform(parse(sys.stdin.buffer.read())))
    except BadInput as problem:
        sys.stderr.write(f"{NAME}: {problem}; {USAGE}\n")
        return 2
    try:
        sys.stdout.buffer.write(answer)
        sys.stdout.buffer.flush()
    except OSError:
        return 1  # stdout cannot be written: a closed pipe, a full disk
    return 0


if __name__ == "__main__":
    sys.exit(main())
