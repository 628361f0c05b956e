//! Small helpers the page modules share to turn service documents into what templates show.

use axum::http::HeaderMap;
use serde_json::Value;

/// The text at `key` of a JSON object (strings as they are, other values as JSON, missing as empty).
pub fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` (UTC); anything else as it is.
pub fn time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// Milliseconds between two RFC 3339 times, if both parse.
pub fn between(start: &str, end: &str) -> Option<i64> {
    let (s, e) = (
        chrono::DateTime::parse_from_rfc3339(start).ok()?,
        chrono::DateTime::parse_from_rfc3339(end).ok()?,
    );
    Some((e - s).num_milliseconds().max(0))
}

/// A duration for people: `4 ms`, `1.25 s`, `3 min 4 s`, `2 h 5 min`.
pub fn duration(ms: i64) -> String {
    match ms {
        ..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.2} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// JSON pretty-printed (templates escape it).
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `path?query` from pairs, leaving out empty values.
pub fn url(path: &str, pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// Where the browser reached FlowMate (`http://host:port`), for webhook URLs and sample commands.
pub fn origin(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        })
        .unwrap_or("127.0.0.1:3000");
    format!("{scheme}://{host}")
}

/// Previous and next links of a paged list.
pub struct Pager {
    /// 1-based page shown.
    pub page: u32,
    /// Pages in all (at least 1).
    pub pages: u64,
    /// Items in all.
    pub total: u64,
    /// The previous page's URL, if any.
    pub prev: Option<String>,
    /// The next page's URL, if any.
    pub next: Option<String>,
}

impl Pager {
    /// The pager of page `page` of `total` items, `per_page` a page; `link(n)` is page n's URL.
    pub fn new(page: u32, per_page: u32, total: u64, link: impl Fn(u32) -> String) -> Pager {
        let pages = total.div_ceil(u64::from(per_page.max(1))).max(1);
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link(page - 1)),
            next: (u64::from(page) < pages).then(|| link(page + 1)),
        }
    }
}

/// A 1-based page number from a query value (missing or bad: 1).
pub fn page_number(raw: Option<&str>) -> u32 {
    raw.and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(4), "4 ms");
        assert_eq!(duration(1250), "1.25 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
    }

    #[test]
    fn urls_leave_out_empty_values_and_encode_the_rest() {
        assert_eq!(url("/a", &[("x", ""), ("y", "a b&c")]), "/a?y=a+b%26c");
        assert_eq!(url("/a", &[]), "/a");
    }

    #[test]
    fn a_hostile_host_header_is_not_used_as_origin() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::HOST, "evil\"><x".parse().unwrap());
        assert_eq!(origin(&h), "http://127.0.0.1:3000");
    }

    #[test]
    fn the_pager_links_only_to_pages_that_exist() {
        let p = Pager::new(1, 10, 25, |n| format!("/p?page={n}"));
        assert_eq!(
            (p.pages, p.prev.clone(), p.next.clone()),
            (3, None, Some("/p?page=2".into()))
        );
        let p = Pager::new(1, 10, 0, |n| n.to_string());
        assert_eq!((p.pages, p.next), (1, None));
    }
}
