// fibonacci: the n-th Fibonacci number, exact, computed iteratively, in Go.
//
// Input: one whole number n, 0 <= n <= 10000 (F(0) = 0, F(1) = 1), with
// optional sign and surrounding whitespace. Output: F(n) in decimal, every
// digit (F(90) = 2880067194370816120, F(10000) has 2090 digits), from
// math/big.
//
// The input is read and checked exactly like the C examples do
// (examples/common/nebula_fn.h), so every input gives the same answer and
// the same message.
package main

import (
	"fmt"
	"io"
	"math/big"
	"os"
)

const (
	name     = "fibonacci"
	usage    = `send one whole number n with 0 <= n <= 10000, e.g. "90"`
	maxN     = 10000
	maxInput = 1024
	exitFail = 1
	exitBad  = 2
)

// badInput reports "<name>: <problem>; <usage>" on stderr and exits 2.
func badInput(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s; %s\n", name, fmt.Sprintf(format, args...), usage)
	os.Exit(exitBad)
}

// isSpace is C's isspace in the C locale: what separates numbers.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// shown makes a token safe to quote in a message: at most 32 bytes,
// unprintable bytes as '?', and "..." after a cut.
func shown(tok []byte) string {
	out := make([]byte, 0, 35)
	for i, c := range tok {
		if i == 32 {
			return string(out) + "..."
		}
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

// fields splits the body at whitespace.
func fields(body []byte) [][]byte {
	var toks [][]byte
	for i := 0; i < len(body); {
		for i < len(body) && isSpace(body[i]) {
			i++
		}
		start := i
		for i < len(body) && !isSpace(body[i]) {
			i++
		}
		if i > start {
			toks = append(toks, body[start:i])
		}
	}
	return toks
}

// readN reads the body as one whole number within [0, maxN].
func readN() int {
	body, err := io.ReadAll(io.LimitReader(os.Stdin, maxInput+1))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot read stdin\n", name)
		os.Exit(exitFail)
	}
	if len(body) > maxInput {
		badInput("the input is longer than %d bytes", maxInput)
	}
	toks := fields(body)
	switch {
	case len(toks) == 0:
		badInput("no input")
	case len(toks) > 1:
		badInput("expected 1 number, got %d", len(toks))
	}

	tok := toks[0]
	digits := tok
	negative := tok[0] == '-'
	if tok[0] == '+' || tok[0] == '-' {
		digits = tok[1:]
	}
	if len(digits) == 0 {
		badInput("\"%s\" is not a whole number", shown(tok))
	}
	// The magnitude saturates past maxN: beyond that only "out of range"
	// matters, and every digit must still be checked.
	magnitude := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			badInput("\"%s\" is not a whole number", shown(tok))
		}
		if magnitude <= maxN {
			magnitude = magnitude*10 + int(c-'0')
		}
	}
	if magnitude > maxN || (negative && magnitude != 0) {
		badInput("n = %s is out of range", shown(tok))
	}
	return magnitude
}

func main() {
	n := readN()

	// Invariant: after k steps, a = F(k) and b = F(k + 1).
	a, b := big.NewInt(0), big.NewInt(1)
	for k := 0; k < n; k++ {
		a.Add(a, b) // a = F(k + 2)
		a, b = b, a
	}
	if _, err := fmt.Fprintln(os.Stdout, a.String()); err != nil {
		os.Exit(exitFail)
	}
}
