//! Redaction of secrets before they reach a log line, an error message or `--help`: the
//! one place that knows what a secret looks like in a URL or a client property.
//!
//! - [`url`]: the password of `scheme://user:password@host/...` and secret query
//!   parameters (`?password=...`, as sqlx accepts) become `***`;
//! - [`text`]: the same for every URL inside a longer text (an error message that quotes
//!   the URL it failed on) and every `Bearer` token in it;
//! - [`property`]: the value of a client property whose name says it is secret
//!   (`sasl.password`, `ssl.key.password`, `sasl.jaas.config`, `...secret`, `...token`).

use std::borrow::Cow;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Words in a property or query parameter name that mark its value as secret.
const SECRET_NAMES: [&str; 8] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "jaas",
    "credential",
    "private",
];

/// Whether a property or parameter called `name` holds a secret.
pub fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|word| name.contains(word)) || name.ends_with("key.pem")
}

/// `value`, or [`MASK`] when the property `key` holds a secret.
pub fn property<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret(key) { MASK } else { value }
}

/// `url` with its password and secret query parameters masked; the rest (user, host,
/// database) is kept, since it is what an operator needs to see.
pub fn url(url: &str) -> String {
    text(url).into_owned()
}

/// `text` with the password of every URL in it, and every bearer token, masked. Borrowed
/// when there is none.
pub fn text(text: &str) -> Cow<'_, str> {
    match urls(text) {
        Cow::Borrowed(text) => bearer_tokens(text),
        Cow::Owned(masked) => Cow::Owned(bearer_tokens(&masked).into_owned()),
    }
}

/// `Bearer <token>` (any case) with the token masked.
fn bearer_tokens(text: &str) -> Cow<'_, str> {
    const BEARER: &str = "bearer ";
    let lower = text.to_ascii_lowercase();
    if !lower.contains(BEARER) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find(BEARER) {
        let token_start = from + found + BEARER.len();
        out.push_str(&text[from..token_start]);
        let token_len = text[token_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')'))
            .unwrap_or(text.len() - token_start);
        out.push_str(MASK);
        from = token_start + token_len;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

/// `text` with the password of every URL in it masked.
fn urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`'))
            .unwrap_or(after.len());
        let (one_url, tail) = after.split_at(end);
        out.push_str(&mask_url_tail(one_url));
        rest = tail;
    }
    out.push_str(rest);
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// Masks the part of a URL after `scheme://`. A password may hold `/`, `?` or `@` that
/// its writer did not percent-encode, so everything from the user's `:` to the last `@` is
/// masked: a path with an `@` in it may be masked too, which is the safe way to be wrong.
fn mask_url_tail(tail: &str) -> String {
    let user_end = tail.find([':', '/', '?', '#', '@']);
    let userinfo_end = tail.rfind('@');
    let (authority, path) = match (user_end, userinfo_end) {
        (Some(colon), Some(at)) if tail[colon..].starts_with(':') && colon < at => {
            let host_and_path = &tail[at..];
            let host_end = host_and_path
                .find(['/', '?', '#'])
                .unwrap_or(host_and_path.len());
            let (host, path) = host_and_path.split_at(host_end);
            (format!("{}:{MASK}{host}", &tail[..colon]), path)
        }
        _ => {
            let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
            (tail[..end].to_owned(), &tail[end..])
        }
    };
    format!("{authority}{}", mask_query(path))
}

/// Masks the values of secret parameters in `path?query#fragment`.
fn mask_query(path: &str) -> Cow<'_, str> {
    let Some((before, query)) = path.split_once('?') else {
        return Cow::Borrowed(path);
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{before}?{}", masked.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_url_is_masked_and_the_rest_kept() {
        assert_eq!(
            url("postgres://orderflow:s3cret@db:5432/orderflow"),
            "postgres://orderflow:***@db:5432/orderflow"
        );
        assert_eq!(
            url("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            url("https://user:p@ss:word@registry/apis/ccompat/v7"),
            "https://user:***@registry/apis/ccompat/v7"
        );
        assert_eq!(url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            url("postgres://orderflow@db/x"),
            "postgres://orderflow@db/x"
        );
        // Characters a password should have percent-encoded but did not.
        assert_eq!(url("postgres://o:a/b?c@db/x"), "postgres://o:***@db/x");
    }

    #[test]
    fn secret_query_parameters_are_masked() {
        assert_eq!(
            url("postgres://db/orderflow?user=o&password=s3cret&sslmode=require"),
            "postgres://db/orderflow?user=o&password=***&sslmode=require"
        );
    }

    #[test]
    fn every_url_in_an_error_message_is_masked() {
        let message = "error sending request for url (http://u:s3cret@registry:8081/subjects): refused; also redis://:pw@c:6379";
        let masked = text(message);
        assert!(
            !masked.contains("s3cret") && !masked.contains(":pw@"),
            "{masked}"
        );
        assert!(masked.contains("http://u:***@registry:8081/subjects)"));
        assert!(matches!(text("no url here"), Cow::Borrowed(_)));
    }

    #[test]
    fn bearer_tokens_in_a_text_are_masked() {
        assert_eq!(
            text("rejected Authorization: Bearer eyJhbGciOi.x.y, from 10.0.0.1"),
            "rejected Authorization: Bearer ***, from 10.0.0.1"
        );
        assert_eq!(text("bearer abc"), "bearer ***");
    }

    #[test]
    fn secret_properties_are_masked_by_name() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "sasl.jaas.config",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
        ] {
            assert_eq!(property(key, "s3cret"), MASK, "{key}");
        }
        assert_eq!(property("sasl.username", "alice"), "alice");
        assert_eq!(property("security.protocol", "SASL_SSL"), "SASL_SSL");
    }
}
