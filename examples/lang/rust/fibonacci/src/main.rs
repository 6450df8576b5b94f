//! fibonacci: the n-th Fibonacci number, exact, computed iteratively, in Rust.
//!
//! Input: one whole number n, 0 <= n <= 10000 (F(0) = 0, F(1) = 1), with
//! optional sign and surrounding whitespace. Output: F(n) in decimal, every
//! digit (F(90) = 2880067194370816120, F(10000) has 2090 digits).
//!
//! The input is read and checked exactly like the C examples do
//! (examples/common/nebula_fn.h), so every input gives the same answer and
//! the same message. Numbers beyond 64 bits are kept as little-endian
//! base-10^9 limbs, as in the C example.

use std::io::{self, Read, Write};
use std::process::exit;

const NAME: &str = "fibonacci";
const USAGE: &str = "send one whole number n with 0 <= n <= 10000, e.g. \"90\"";
const MAX_N: u64 = 10000;
const MAX_INPUT: usize = 1024;
const BASE: u32 = 1_000_000_000;

/// Reports "<name>: <problem>; <usage>" on stderr and exits 2.
fn bad_input(problem: &str) -> ! {
    eprintln!("{}: {}; {}", NAME, problem, USAGE);
    exit(2);
}

/// C's isspace in the C locale: what separates numbers.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A token made safe to quote in a message: at most 32 bytes, unprintable
/// bytes as '?', and "..." after a cut.
fn shown(tok: &[u8]) -> String {
    let mut out: String = tok
        .iter()
        .take(32)
        .map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '?' })
        .collect();
    if tok.len() > 32 {
        out.push_str("...");
    }
    out
}

/// Reads the body as one whole number within [0, MAX_N].
fn read_n() -> u64 {
    let mut body = Vec::with_capacity(MAX_INPUT + 1);
    if io::stdin().take(MAX_INPUT as u64 + 1).read_to_end(&mut body).is_err() {
        eprintln!("{}: cannot read stdin", NAME);
        exit(1);
    }
    if body.len() > MAX_INPUT {
        bad_input(&format!("the input is longer than {} bytes", MAX_INPUT));
    }
    let tokens: Vec<&[u8]> = body.split(|&c| is_space(c)).filter(|t| !t.is_empty()).collect();
    let tok = match tokens.len() {
        0 => bad_input("no input"),
        1 => tokens[0],
        count => bad_input(&format!("expected 1 number, got {}", count)),
    };

    let negative = tok[0] == b'-';
    let digits = if tok[0] == b'+' || tok[0] == b'-' { &tok[1..] } else { tok };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        bad_input(&format!("\"{}\" is not a whole number", shown(tok)));
    }
    // The magnitude saturates past MAX_N: beyond that only "out of range"
    // matters.
    let magnitude = digits.iter().fold(0u64, |m, &c| {
        if m > MAX_N { m } else { m * 10 + u64::from(c - b'0') }
    });
    if magnitude > MAX_N || (negative && magnitude != 0) {
        bad_input(&format!("n = {} is out of range", shown(tok)));
    }
    magnitude
}

/// A natural number as base-10^9 limbs, least significant first, each below
/// BASE, at least one.
struct BigNum {
    limbs: Vec<u32>,
}

impl BigNum {
    fn from_small(x: u32) -> BigNum {
        BigNum { limbs: vec![x] }
    }

    /// self += other
    fn add(&mut self, other: &BigNum) {
        if self.limbs.len() < other.limbs.len() {
            self.limbs.resize(other.limbs.len(), 0);
        }
        let mut carry = 0;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let x = *limb + other.limbs.get(i).copied().unwrap_or(0) + carry;
            carry = u32::from(x >= BASE);
            *limb = if carry == 1 { x - BASE } else { x };
        }
        if carry == 1 {
            self.limbs.push(carry);
        }
    }

    /// Decimal digits: the top limb as it is, every other one as 9 digits.
    fn to_decimal(&self) -> String {
        let mut limbs = self.limbs.iter().rev();
        let mut out = limbs.next().map_or(String::new(), |top| top.to_string());
        for limb in limbs {
            out.push_str(&format!("{:09}", limb));
        }
        out
    }
}

fn main() {
    let n = read_n();

    // Invariant: after k steps, lo = F(k) and hi = F(k + 1).
    let mut lo = BigNum::from_small(0);
    let mut hi = BigNum::from_small(1);
    for _ in 0..n {
        lo.add(&hi); // lo = F(k + 2)
        std::mem::swap(&mut lo, &mut hi);
    }

    let mut stdout = io::stdout().lock();
    if writeln!(stdout, "{}", lo.to_decimal()).and_then(|_| stdout.flush()).is_err() {
        exit(1); // stdout is gone: nobody to tell
    }
}
