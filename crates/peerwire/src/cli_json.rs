//! JSON helpers of the command line: parsing `PARAMS` arguments and printing results as one
//! line.

use anyhow::{Context, bail};
use serde_json::{Value, value::RawValue};

/// Parses a `PARAMS` argument: a JSON array or object; `None` means `[]`.
///
/// # Errors
///
/// When the text is not JSON, or is JSON but neither an array nor an object.
pub(crate) fn parse_params(text: Option<&str>) -> anyhow::Result<Value> {
    let Some(text) = text else {
        return Ok(Value::Array(Vec::new()));
    };
    let value: Value = serde_json::from_str(text)
        .with_context(|| format!("invalid PARAMS {}: not JSON", shorten(text)))?;
    match value {
        Value::Array(_) | Value::Object(_) => Ok(value),
        _ => bail!(
            "invalid PARAMS {}: expected a JSON array or object",
            shorten(text)
        ),
    }
}

/// Builds the `eth_subscribe` params `[KIND, ...PARAMS]`: an array is spread after the kind,
/// an object (a `logs` filter, say) is appended as one element.
pub(crate) fn subscribe_params(kind: &str, params: Value) -> Vec<Value> {
    let mut all = vec![Value::String(kind.to_owned())];
    match params {
        Value::Array(items) => all.extend(items),
        other => all.push(other),
    }
    all
}

/// Removes the whitespace outside strings, so that any JSON text prints as one line without
/// changing a value (numbers keep their exact digits).
pub(crate) fn compact(raw: &RawValue) -> String {
    let text = raw.get();
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// At most 60 characters of `text`, for error messages.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        format!("{one_line:?}")
    } else {
        let head: String = one_line.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn params_accept_arrays_objects_and_nothing() {
        assert_eq!(parse_params(None).unwrap(), serde_json::json!([]));
        assert_eq!(
            parse_params(Some(r#"["0x1", true]"#)).unwrap(),
            serde_json::json!(["0x1", true])
        );
        assert_eq!(
            parse_params(Some(r#"{"a":1}"#)).unwrap(),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn params_reject_scalars_and_garbage() {
        for bad in ["1", "\"x\"", "null", "true", "[1,", "", "{a:1}"] {
            let e = parse_params(Some(bad)).unwrap_err().to_string();
            assert!(e.starts_with("invalid PARAMS"), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        let long = format!("[{}", "1,".repeat(200));
        let e = parse_params(Some(&long)).unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
    }

    #[test]
    fn subscribe_params_spread_arrays_and_append_objects() {
        assert_eq!(
            subscribe_params("newHeads", serde_json::json!([])),
            vec![serde_json::json!("newHeads")]
        );
        assert_eq!(
            subscribe_params("logs", serde_json::json!({"address": "0x1"})),
            vec![
                serde_json::json!("logs"),
                serde_json::json!({"address": "0x1"})
            ]
        );
        assert_eq!(
            subscribe_params("x", serde_json::json!([1, 2])),
            vec![
                serde_json::json!("x"),
                serde_json::json!(1),
                serde_json::json!(2)
            ]
        );
    }

    #[test]
    fn compact_keeps_strings_and_numbers() {
        let check = |input: &str, expect: &str| assert_eq!(compact(&raw(input)), expect);
        check("\"0x10\"", "\"0x10\"");
        check(
            "{ \"a\" : [ 1 ,\n 2 ],\r\n\t\"b c\": \"x \\\" y\\\\\" }",
            "{\"a\":[1,2],\"b c\":\"x \\\" y\\\\\"}",
        );
        check(
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        );
        check("null", "null");
        check("[ \"\\\\\" , \" \" ]", "[\"\\\\\",\" \"]");
    }
}
