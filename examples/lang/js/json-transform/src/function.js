// json-transform: totals an order, with JavaScript's JSON.
//
// Input:  one JSON object, an order whose optional "items" is an array of
//         objects with whole-number "qty" and "price_cents".
// Output: the same object with "item_count" (the number of items) and
//         "total_cents" (the sum of qty * price_cents) added, as compact
//         JSON with the keys sorted at every depth, non-ASCII characters as
//         UTF-8 and "<", ">", "&" as they are, then a newline.
//
// JSON.parse reads the body and JSON.stringify writes every string and
// number; only the objects are written here, to sort their keys (a
// JavaScript object keeps keys like "10" ahead of the others, whatever the
// order they were added in). Numbers are JavaScript numbers: 1.50 comes back
// as 1.5, and integers beyond 2^53 lose digits. qty and price_cents must be
// safe integers, the total (summed exactly, as a BigInt) a signed 64-bit one.
//
// The logic only: both entry points (src/wasm.js for the component,
// src/node.js for the Docker image) run it.

export const name = 'json-transform';

const kUsage = 'send a JSON order, e.g. {"items":[{"qty":2,"price_cents":150}]}';

// Bad input: the entry points print "<name>: <problem>; <usage>" on stderr
// and exit with 2 (1 in a component, see src/wasm.js).
export class BadInput extends Error {
  constructor(problem) {
    super(`${name}: ${problem}; ${kUsage}`);
    this.name = 'BadInput';
  }
}

const kInt64Min = -(2n ** 63n);
const kInt64Max = 2n ** 63n - 1n;

function parseOrder(input) {
  let text;
  try {
    // ignoreBOM: a byte order mark stays, and is not JSON.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    throw new BadInput('the input is not valid UTF-8');
  }
  if (/^[ \t\n\r]*$/.test(text)) throw new BadInput('no input');
  let order;
  try {
    order = JSON.parse(text);
  } catch (e) {
    throw new BadInput(`the input is not valid JSON (${e.message})`);
  }
  if (!isObject(order)) throw new BadInput('the input is not a JSON object');
  return order;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// item[key] as a BigInt: a JSON number with an integral, safe value.
function wholeNumber(item, key, index) {
  if (!Object.hasOwn(item, key)) throw new BadInput(`items[${index}] has no "${key}"`);
  const value = item[key];
  if (!Number.isInteger(value)) throw new BadInput(`items[${index}].${key} is not an integer`);
  if (!Number.isSafeInteger(value)) throw new BadInput(`items[${index}].${key} is out of range`);
  return BigInt(value);
}

// Orders strings by code point, as the UTF-8 bytes sort (JavaScript's own
// comparison goes by UTF-16 units, which puts U+10000 and up before U+E000).
function byCodePoint(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ++i) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (0xD800-0xDFFF) move above 0xE000-0xFFFF.
      const rank = (c) => (c >= 0xd800 && c <= 0xdfff ? c + 0x2000 : c >= 0xe000 ? c - 0x800 : c);
      return rank(x) - rank(y);
    }
  }
  return a.length - b.length;
}

// Compact JSON with sorted keys; a BigInt is written as its digits.
function serialize(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`;
  if (isObject(value)) {
    const members = Object.keys(value).sort(byCodePoint)
      .map((key) => `${JSON.stringify(key)}:${serialize(value[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

// handle(input: Uint8Array, log: (text: string | Uint8Array) => void)
//   -> string, the answer; throws BadInput.
export function handle(input) {
  const order = parseOrder(input);
  let items = [];
  if (Object.hasOwn(order, 'items')) {
    items = order.items;
    if (!Array.isArray(items)) throw new BadInput('"items" is not an array');
  }
  let total = 0n;
  items.forEach((item, i) => {
    if (!isObject(item)) throw new BadInput(`items[${i}] is not an object`);
    total += wholeNumber(item, 'qty', i) * wholeNumber(item, 'price_cents', i);
  });
  if (total < kInt64Min || total > kInt64Max) throw new BadInput('total_cents is out of range');
  order.item_count = items.length;
  order.total_cents = total;
  return `${serialize(order)}\n`;
}
