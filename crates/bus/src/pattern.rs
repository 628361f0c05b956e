//! AMQP topic matching: words separated by `.`, `*` matches one word, `#` zero or more.

/// Whether `key` matches the topic `pattern`.
pub fn matches(pattern: &str, key: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    matches_from(&p, &k)
}

fn matches_from(p: &[&str], k: &[&str]) -> bool {
    match p.split_first() {
        None => k.is_empty(),
        Some((&"#", rest)) => (0..=k.len()).any(|i| matches_from(rest, &k[i..])),
        Some((&"*", rest)) => !k.is_empty() && matches_from(rest, &k[1..]),
        Some((w, rest)) => k.first() == Some(w) && matches_from(rest, &k[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn topic_patterns_match_like_rabbitmq() {
        assert!(matches("iam.#", "iam.user.created"));
        assert!(matches("iam.#", "iam"));
        assert!(matches("iam.user.*", "iam.user.deleted"));
        assert!(!matches("iam.user.*", "iam.user.a.b"));
        assert!(matches("#", "anything.at.all"));
        assert!(matches("flow.execute", "flow.execute"));
        assert!(!matches("flow.execute", "flow.executed"));
        assert!(matches("*.started", "flow.started"));
    }
}
