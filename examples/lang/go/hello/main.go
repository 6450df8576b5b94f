// hello: the smallest Nebula function, in Go.
//
// Input: an optional name (surrounding whitespace is ignored, at most 100
// bytes, no control characters). Output: "Hello, <name>!" or, for an empty
// body, "Hello, World!". Logs one line on stderr so that log capture can be
// seen end to end.
//
// The same source builds the wasm module (GOOS=wasip1 GOARCH=wasm) and the
// static Linux binary of the Docker image.
package main

import (
	"fmt"
	"io"
	"os"
)

const (
	name    = "hello"
	maxName = 100
	// More than allowed even with some whitespace around, so that "too
	// long" can be told apart without reading an unbounded body.
	maxRead  = maxName + 64
	tooLong  = `send a short name, e.g. "Ada"`
	oneLine  = `send one line of text, e.g. "Ada"`
	exitFail = 1
	exitBad  = 2
)

// badInput reports "<name>: <problem>; <usage>" on stderr and exits 2.
func badInput(usage, problem string) {
	fmt.Fprintf(os.Stderr, "%s: %s; %s\n", name, problem, usage)
	os.Exit(exitBad)
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func main() {
	buf, err := io.ReadAll(io.LimitReader(os.Stdin, maxRead+1))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot read stdin\n", name)
		os.Exit(exitFail)
	}
	if len(buf) > maxRead {
		badInput(tooLong, fmt.Sprintf("the name is longer than %d bytes", maxName))
	}

	begin, end := 0, len(buf)
	for begin < end && isSpace(buf[begin]) {
		begin++
	}
	for end > begin && isSpace(buf[end-1]) {
		end--
	}
	who := buf[begin:end]

	if len(who) > maxName {
		badInput(tooLong, fmt.Sprintf("the name is longer than %d bytes", maxName))
	}
	for _, c := range who {
		if c < 0x20 || c == 0x7f {
			badInput(oneLine, "the name contains a control character")
		}
	}
	if len(who) == 0 {
		who = []byte("World")
	}

	fmt.Fprintf(os.Stderr, "%s: greeting %s\n", name, who)
	if _, err := fmt.Fprintf(os.Stdout, "Hello, %s!\n", who); err != nil {
		os.Exit(exitFail) // stdout is gone: nobody to tell
	}
}
