//! Turning an incoming webhook into the trigger message of API.md §5: the body by its `Content-Type` (JSON,
//! text, form, XML with attributes under `_attr`), the query, and the headers minus credentials.

use quick_xml::{events::Event, Reader};
use serde_json::{json, Map, Value};

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// 415.
    Unsupported(String),
    /// 400.
    Malformed(String),
}

/// Form and query pairs as an object; a repeated key becomes an array of its values.
pub fn pairs_to_object(pairs: Vec<(String, String)>) -> Value {
    let mut out = Map::new();
    for (k, v) in pairs {
        match out.get_mut(&k) {
            None => {
                out.insert(k, Value::String(v));
            }
            Some(Value::Array(items)) => items.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
        }
    }
    Value::Object(out)
}

/// The query string as an object.
pub fn query(raw: &str) -> Value {
    pairs_to_object(serde_urlencoded::from_str(raw).unwrap_or_default())
}

/// The body as data, by media type. An empty body is `{}`.
pub fn body(content_type: Option<&str>, bytes: &[u8]) -> Result<Value, BodyError> {
    let Some(content_type) = content_type else {
        return Err(BodyError::Unsupported("Content-Type is required".into()));
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let known = media == "application/json"
        || (media.starts_with("application/") && (media.ends_with("+json") || media.ends_with("+xml")))
        || matches!(
            media.as_str(),
            "text/plain" | "application/x-www-form-urlencoded" | "application/xml" | "text/xml"
        );
    if !known {
        return Err(BodyError::Unsupported(format!(
            "Unsupported Content-Type {media:?}: use application/json, text/plain, application/x-www-form-urlencoded \
             or XML"
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let text =
        || std::str::from_utf8(bytes).map_err(|_| BodyError::Malformed("The body is not valid UTF-8".into()));
    if media == "application/json" || (media.starts_with("application/") && media.ends_with("+json")) {
        return serde_json::from_slice(bytes).map_err(|e| BodyError::Malformed(format!("Invalid JSON: {e}")));
    }
    if media == "text/plain" {
        let t = text()?;
        return Ok(serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())));
    }
    if media == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| BodyError::Malformed(format!("Invalid form: {e}")))?;
        return Ok(pairs_to_object(pairs));
    }
    if media == "application/xml" || media == "text/xml" || media.ends_with("+xml") {
        return xml(text()?).map_err(|e| BodyError::Malformed(format!("Invalid XML: {e}")));
    }
    Err(BodyError::Unsupported(format!(
        "Unsupported Content-Type {media:?}: use application/json, text/plain, application/x-www-form-urlencoded \
         or XML"
    )))
}

/// One element being read: its name, attributes, children and text.
struct Element {
    name: String,
    attrs: Map<String, Value>,
    children: Map<String, Value>,
    text: String,
}

impl Element {
    /// An element with only text becomes that text; otherwise an object with `_attr`, its children (a repeated
    /// child becomes an array) and `_text` for mixed content.
    fn into_value(self) -> Value {
        let text = self.text.trim().to_owned();
        if self.attrs.is_empty() && self.children.is_empty() {
            return Value::String(text);
        }
        let mut out = Map::new();
        if !self.attrs.is_empty() {
            out.insert("_attr".into(), Value::Object(self.attrs));
        }
        out.extend(self.children);
        if !text.is_empty() {
            out.insert("_text".into(), Value::String(text));
        }
        Value::Object(out)
    }
}

fn add_child(parent: &mut Map<String, Value>, name: String, value: Value) {
    match parent.get_mut(&name) {
        None => {
            parent.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// XML to JSON: `<order id="7"><item>a</item><item>b</item></order>` →
/// `{"order": {"_attr": {"id": "7"}, "item": ["a", "b"]}}`.
pub fn xml(text: &str) -> Result<Value, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = Map::new();
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Element, String> {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attrs = Map::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let value = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
            attrs.insert(
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                Value::String(value),
            );
        }
        Ok(Element {
            name,
            attrs,
            children: Map::new(),
            text: String::new(),
        })
    };
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("at {}: {e}", reader.buffer_position()))?
        {
            Event::Start(e) => {
                // Deeper documents are refused: expressions parse the data recursively.
                if stack.len() >= 100 {
                    return Err("nested deeper than 100 elements".into());
                }
                stack.push(open(&e)?)
            }
            Event::Empty(e) => {
                let element = open(&e)?;
                let name = element.name.clone();
                match stack.last_mut() {
                    Some(parent) => add_child(&mut parent.children, name, element.into_value()),
                    None => add_child(&mut root, name, element.into_value()),
                }
            }
            Event::Text(t) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(t) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unexpected closing tag")?;
                let name = element.name.clone();
                match stack.last_mut() {
                    Some(parent) => add_child(&mut parent.children, name, element.into_value()),
                    None => add_child(&mut root, name, element.into_value()),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    if root.is_empty() {
        return Err("no element".into());
    }
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_by_content_type() {
        assert_eq!(
            body(Some("application/json; charset=utf-8"), br#"{"a":1}"#),
            Ok(json!({"a": 1}))
        );
        assert_eq!(body(Some("text/plain"), b"[1,2]"), Ok(json!([1, 2])));
        assert_eq!(body(Some("text/plain"), b"hello"), Ok(json!("hello")));
        assert_eq!(
            body(Some("application/x-www-form-urlencoded"), b"a=1&b=x+y&a=2"),
            Ok(json!({"a": ["1", "2"], "b": "x y"}))
        );
        assert_eq!(body(Some("application/json"), b""), Ok(json!({})));
        assert!(matches!(body(None, b"{}"), Err(BodyError::Unsupported(_))));
        assert!(matches!(
            body(Some("application/octet-stream"), b"x"),
            Err(BodyError::Unsupported(_))
        ));
        assert!(matches!(
            body(Some("application/octet-stream"), b""),
            Err(BodyError::Unsupported(_))
        ));
        assert!(matches!(
            body(Some("application/json"), b"{"),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn xml_becomes_json_with_attributes_under_attr() {
        let doc = r#"<?xml version="1.0"?><order id="7" kind="web"><item>a</item><item>b &amp; c</item>
                     <customer><name>Ada</name></customer><note/></order>"#;
        assert_eq!(
            body(Some("application/xml"), doc.as_bytes()),
            Ok(
                json!({"order": {"_attr": {"id": "7", "kind": "web"}, "item": ["a", "b & c"],
                                "customer": {"name": "Ada"}, "note": ""}})
            )
        );
        assert!(matches!(
            body(Some("text/xml"), b"<a><b></a>"),
            Err(BodyError::Malformed(_))
        ));
    }
}
