//! json-transform: totals an order, in Rust.
//!
//! Input: one JSON object, an order whose optional "items" is an array of
//! objects with whole-number "qty" and "price_cents". Output: the same object
//! with "item_count" (the number of items) and "total_cents" (the sum of
//! qty * price_cents) added, as compact JSON with the keys sorted at every
//! depth, non-ASCII characters as UTF-8 and "<", ">", "&" as they are, then a
//! newline. Numbers are copied as written ("1.50" stays "1.50").
//!
//! qty, price_cents and the total must fit in a signed 64-bit integer. The
//! JSON reader and writer are in json.rs: the function uses the standard
//! library only.

mod json;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::process::exit;

use json::Value;

const NAME: &str = "json-transform";
const USAGE: &str = "send a JSON order, e.g. {\"items\":[{\"qty\":2,\"price_cents\":150}]}";

/// Returns item[key] as an i64: it must be a JSON number written without a
/// fraction or an exponent. `index` is the item's, for the message.
fn whole_number(item: &BTreeMap<String, Value>, key: &str, index: usize) -> Result<i64, String> {
    match item.get(key) {
        None => Err(format!("items[{}] has no \"{}\"", index, key)),
        Some(Value::Number(text)) if !text.contains(|c| matches!(c, '.' | 'e' | 'E')) => text
            .parse::<i64>()
            .map_err(|_| format!("items[{}].{} is out of range", index, key)),
        Some(_) => Err(format!("items[{}].{} is not an integer", index, key)),
    }
}

/// The answer for a request body, or the problem with it.
fn transform(body: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the input is not valid UTF-8".to_string())?;
    if text.trim_start_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')).is_empty() {
        return Err("no input".to_string());
    }
    let mut order = match json::parse(text) {
        Ok(Value::Object(order)) => order,
        Ok(_) => return Err("the input is not a JSON object".to_string()),
        Err(e) => return Err(format!("the input is not valid JSON ({})", e)),
    };

    let items: &[Value] = match order.get("items") {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => return Err("\"items\" is not an array".to_string()),
    };
    // The exact total, as an i128 that wraps and the count of its wraps (a
    // product of two i64 fits an i128, a sum of them may not). Only the
    // final total needs to fit in an i64, however large the sums on the way.
    let mut total: i128 = 0;
    let mut wraps: i64 = 0;
    for (i, item) in items.iter().enumerate() {
        let item = match item {
            Value::Object(item) => item,
            _ => return Err(format!("items[{}] is not an object", i)),
        };
        let qty = whole_number(item, "qty", i)?;
        let price = whole_number(item, "price_cents", i)?;
        let product = i128::from(qty) * i128::from(price);
        let (sum, wrapped) = total.overflowing_add(product);
        if wrapped {
            wraps += if product > 0 { 1 } else { -1 };
        }
        total = sum;
    }
    let total = match i64::try_from(total) {
        Ok(total) if wraps == 0 => total,
        _ => return Err("total_cents is out of range".to_string()),
    };
    let count = items.len();

    order.insert("item_count".to_string(), Value::Number(count.to_string()));
    order.insert("total_cents".to_string(), Value::Number(total.to_string()));
    let mut out = Value::Object(order).to_json();
    out.push('\n');
    Ok(out)
}

fn main() {
    let mut body = Vec::new();
    if io::stdin().read_to_end(&mut body).is_err() {
        eprintln!("{}: cannot read stdin", NAME);
        exit(1);
    }
    match transform(&body) {
        Ok(answer) => {
            let mut stdout = io::stdout().lock();
            if stdout.write_all(answer.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                exit(1); // stdout is gone: nobody to tell
            }
        }
        Err(problem) => {
            eprintln!("{}: {}; {}", NAME, problem, USAGE);
            exit(2);
        }
    }
}
