//! hello: the smallest Nebula function, in Rust.
//!
//! Input: an optional name (surrounding whitespace is ignored, at most 100
//! bytes, no control characters). Output: "Hello, <name>!" or, for an empty
//! body, "Hello, World!". Logs one line on stderr so that log capture can be
//! seen end to end.
//!
//! The same source builds the wasm module (--target wasm32-wasi) and the
//! static Linux binary of the Docker image, with the standard library only.

use std::io::{self, Read, Write};
use std::process::exit;

const NAME: &str = "hello";
const MAX_NAME: usize = 100;
/// More than allowed even with some whitespace around, so that "too long"
/// can be told apart without reading an unbounded body.
const MAX_READ: usize = MAX_NAME + 64;
const TOO_LONG: &str = "send a short name, e.g. \"Ada\"";
const ONE_LINE: &str = "send one line of text, e.g. \"Ada\"";

/// Reports "<name>: <problem>; <usage>" on stderr and exits 2.
fn bad_input(usage: &str, problem: &str) -> ! {
    eprintln!("{}: {}; {}", NAME, problem, usage);
    exit(2);
}

/// C's isspace in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn main() {
    let mut buf = Vec::with_capacity(MAX_READ + 1);
    if io::stdin().take(MAX_READ as u64 + 1).read_to_end(&mut buf).is_err() {
        eprintln!("{}: cannot read stdin", NAME);
        exit(1);
    }
    if buf.len() > MAX_READ {
        bad_input(TOO_LONG, &format!("the name is longer than {} bytes", MAX_NAME));
    }

    let begin = buf.iter().position(|&c| !is_space(c)).unwrap_or(buf.len());
    let end = buf.iter().rposition(|&c| !is_space(c)).map_or(begin, |i| i + 1);
    let mut who: &[u8] = &buf[begin..end];

    if who.len() > MAX_NAME {
        bad_input(TOO_LONG, &format!("the name is longer than {} bytes", MAX_NAME));
    }
    if who.iter().any(|&c| c < 0x20 || c == 0x7f) {
        bad_input(ONE_LINE, "the name contains a control character");
    }
    if who.is_empty() {
        who = b"World";
    }

    // The name is bytes, not necessarily UTF-8: it is written back as it came.
    let mut log = Vec::new();
    log.extend_from_slice(NAME.as_bytes());
    log.extend_from_slice(b": greeting ");
    log.extend_from_slice(who);
    log.push(b'\n');
    let _ = io::stderr().write_all(&log);

    let mut out = Vec::new();
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(who);
    out.extend_from_slice(b"!\n");
    let mut stdout = io::stdout().lock();
    if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
        exit(1); // stdout is gone: nobody to tell
    }
}
