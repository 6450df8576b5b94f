//! A small JSON reader and writer (RFC 8259), enough for a function that
//! reads a document, changes it and writes it back.
//!
//! - Objects are `BTreeMap`s, so their keys come out sorted (by bytes, which
//!   for UTF-8 is the order of code points); a repeated key keeps its last
//!   value.
//! - Numbers keep the text they were written with: "1.50" is written back as
//!   "1.50" and a 30-digit integer keeps every digit. The reader checks the
//!   grammar; what a number means is left to the caller.
//! - Strings are UTF-8. `\uXXXX` escapes are decoded, surrogate pairs
//!   included; a lone surrogate, which no UTF-8 string can hold, becomes
//!   U+FFFD. The writer escapes only what JSON requires: `"`, `\` and the
//!   control characters below U+0020.
//! - Nesting is limited to `MAX_DEPTH` levels, so that no input can exhaust
//!   the stack of the recursive reader.

use std::collections::BTreeMap;
use std::fmt;

/// How deeply arrays and objects may nest.
pub const MAX_DEPTH: usize = 1000;

/// A JSON value.
#[derive(Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's source text, valid JSON number syntax.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

/// Why a text is not JSON: what was wrong and, when it is not the end of the
/// text, at which byte.
#[derive(Debug, PartialEq)]
pub struct Error {
    problem: &'static str,
    offset: Option<usize>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at byte {}", self.problem, offset),
            None => f.write_str(self.problem),
        }
    }
}

/// Parses a text that holds exactly one JSON value, with optional whitespace
/// around it.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut parser = Parser { text, bytes: text.as_bytes(), pos: 0, depth: 0 };
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(Error { problem: "text after the value", offset: None });
    }
    Ok(value)
}

/// A recursive-descent reader: one method per kind of value, each starting
/// at the value's first byte and leaving `pos` just after its last.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Arrays and objects open around `pos`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// An error at the current byte, or at the end of the text.
    fn error(&self, problem: &'static str) -> Error {
        if self.pos >= self.bytes.len() {
            Error { problem: "unexpected end of input", offset: None }
        } else {
            Error { problem, offset: Some(self.pos) }
        }
    }

    /// JSON's whitespace: space, tab, LF and CR.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional whitespace, or fails with `problem`.
    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), Error> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(self.error(problem));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self) -> Result<Value, Error> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, Error> {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            return Err(self.error("invalid literal (true, false or null)"));
        }
        self.pos += word.len();
        Ok(value)
    }

    /// Counts one more level of nesting at an opening bracket.
    fn enter(&mut self) -> Result<(), Error> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("arrays and objects nested too deeply"));
        }
        self.depth += 1;
        self.pos += 1; // the bracket
        Ok(())
    }

    /// '{' [ string ':' value { ',' string ':' value } ] '}'
    fn object(&mut self) -> Result<Value, Error> {
        self.enter()?;
        let mut members = BTreeMap::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a string as the key"));
                }
                let key = self.string()?;
                self.expect(b':', "expected ':' after the key")?;
                let value = self.value()?;
                members.insert(key, value);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}' in an object")),
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Object(members))
    }

    /// '[' [ value { ',' value } ] ']'
    fn array(&mut self) -> Result<Value, Error> {
        self.enter()?;
        let mut elements = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                elements.push(self.value()?);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ']' in an array")),
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(elements))
    }

    /// Advances over ASCII digits and returns how many there were.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// ['-'] ('0' | [1-9] digits) ['.' digits] [('e' | 'E') ['+' | '-'] digits]
    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.error("a number with a leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        Ok(Value::Number(self.text[start..self.pos].to_string()))
    }

    /// '"' { character | escape } '"', starting at the opening quote.
    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control
            // character at once. Those are ASCII, so the run ends on a
            // character boundary of the (valid UTF-8) text.
            let start = self.pos;
            while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                _ => return Err(self.error("a control character in a string")),
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                out.push(self.code_point(unit)?);
                return Ok(());
            }
            _ => return Err(self.error("an invalid escape in a string")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// The four hex digits of a \u escape, as a UTF-16 code unit.
    fn hex4(&mut self) -> Result<u32, Error> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(c) => (c as char).to_digit(16),
                None => None,
            };
            match digit {
                Some(d) => unit = unit * 16 + d,
                None => return Err(self.error("expected four hex digits after \\u")),
            }
            self.pos += 1;
        }
        Ok(unit)
    }

    /// The character of a \u escape whose code unit was `unit`: a high
    /// surrogate directly followed by an escaped low one makes one character
    /// beyond U+FFFF; a surrogate without its partner becomes U+FFFD (and a
    /// following escape is read on its own).
    fn code_point(&mut self, unit: u32) -> Result<char, Error> {
        if (0xD800..0xDC00).contains(&unit) && self.bytes[self.pos..].starts_with(b"\\u") {
            let after_high = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = after_high;
        }
        // Every other unit outside the surrogates is a character itself.
        Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }
}

impl Value {
    /// The value as compact JSON: no whitespace, object keys sorted.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(text) => out.push_str(text),
            Value::String(s) => write_string(s, out),
            Value::Array(elements) => {
                out.push('[');
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    element.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A string in quotes, with the escapes JSON requires and no others: the
/// short ones where JSON has them, \u00XX (lower-case hex) for the other
/// control characters. Everything else, non-ASCII included, is copied.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
