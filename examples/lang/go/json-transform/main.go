// json-transform: totals an order, in Go with encoding/json.
//
// Input: one JSON object, an order whose optional "items" is an array of
// objects with whole-number "qty" and "price_cents". Output: the same object
// with "item_count" (the number of items) and "total_cents" (the sum of
// qty * price_cents) added, as compact JSON with the keys sorted at every
// depth, non-ASCII characters as UTF-8 and "<", ">", "&" as they are, then a
// newline. Numbers are copied as written ("1.50" stays "1.50").
//
// qty, price_cents and the total must fit in a signed 64-bit integer.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	name     = "json-transform"
	usage    = `send a JSON order, e.g. {"items":[{"qty":2,"price_cents":150}]}`
	exitFail = 1
	exitBad  = 2
)

// badInput is an input error: its text is the problem part of
// "<name>: <problem>; <usage>".
type badInput string

func (b badInput) Error() string { return string(b) }

func bad(format string, args ...any) error { return badInput(fmt.Sprintf(format, args...)) }

// isJSONSpace is JSON's whitespace (RFC 8259): space, tab, LF and CR.
func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseOrder decodes the body as one JSON object. Numbers stay json.Number,
// their text as written, so that they are written back unchanged.
func parseOrder(body []byte) (map[string]any, error) {
	if !utf8.Valid(body) {
		return nil, bad("the input is not valid UTF-8")
	}
	if len(bytes.TrimLeft(body, " \t\n\r")) == 0 {
		return nil, bad("no input")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, bad("the input is not valid JSON (%v)", err)
	}
	for _, c := range body[dec.InputOffset():] {
		if !isJSONSpace(c) {
			return nil, bad("the input is not valid JSON (text after the value)")
		}
	}
	order, ok := value.(map[string]any)
	if !ok {
		return nil, bad("the input is not a JSON object")
	}
	return order, nil
}

// wholeNumber returns item[key] as an int64: it must be a JSON number
// written without a fraction or an exponent.
func wholeNumber(item map[string]any, key string, index int) (int64, error) {
	v, ok := item[key]
	if !ok {
		return 0, bad("items[%d] has no %q", index, key)
	}
	num, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(num), ".eE") {
		return 0, bad("items[%d].%s is not an integer", index, key)
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, bad("items[%d].%s is out of range", index, key)
	}
	return n, nil
}

// addTotals adds "item_count" and "total_cents" to the order.
func addTotals(order map[string]any) error {
	var items []any
	if raw, present := order["items"]; present {
		var ok bool
		if items, ok = raw.([]any); !ok {
			return bad(`"items" is not an array`)
		}
	}
	// Exact, so that only the final total needs a range check.
	total := new(big.Int)
	for i, raw := range items {
		item, ok := raw.(map[string]any)
		if !ok {
			return bad("items[%d] is not an object", i)
		}
		qty, err := wholeNumber(item, "qty", i)
		if err != nil {
			return err
		}
		price, err := wholeNumber(item, "price_cents", i)
		if err != nil {
			return err
		}
		total.Add(total, new(big.Int).Mul(big.NewInt(qty), big.NewInt(price)))
	}
	if !total.IsInt64() {
		return bad("total_cents is out of range")
	}
	order["item_count"] = json.Number(strconv.Itoa(len(items)))
	order["total_cents"] = json.Number(total.String())
	return nil
}

// encode writes the value as compact JSON and a newline. encoding/json sorts
// map keys and, with SetEscapeHTML(false), leaves "<", ">" and "&" alone;
// it still writes U+2028 and U+2029 as \u escapes (for JavaScript's sake),
// which keepLineSeparators turns back into UTF-8.
func encode(value any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return nil, err
	}
	return keepLineSeparators(buf.Bytes()), nil
}

// keepLineSeparators replaces the escapes \u2028 and \u2029 in JSON text by
// the characters themselves. Backslashes occur only inside strings, each
// starting an escape, so walking escape by escape never mistakes an escaped
// backslash followed by "u2028" for one.
func keepLineSeparators(text []byte) []byte {
	if !bytes.Contains(text, []byte(`\u202`)) {
		return text
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' || i+1 == len(text) {
			out = append(out, text[i])
			continue
		}
		if esc := string(text[i:min(i+6, len(text))]); esc == `\u2028` || esc == `\u2029` {
			out = utf8.AppendRune(out, rune(0x2028+int(esc[5]-'8')))
			i += 5
			continue
		}
		out = append(out, text[i], text[i+1])
		i++
	}
	return out
}

func main() {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot read stdin\n", name)
		os.Exit(exitFail)
	}
	order, err := parseOrder(body)
	if err == nil {
		err = addTotals(order)
	}
	var out []byte
	if err == nil {
		out, err = encode(order)
	}
	if b, ok := err.(badInput); ok {
		fmt.Fprintf(os.Stderr, "%s: %s; %s\n", name, b, usage)
		os.Exit(exitBad)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(exitFail)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		os.Exit(exitFail)
	}
}
