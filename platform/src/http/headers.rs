//! Request headers of free text, read the same way by every API: `Idempotency-Key`,
//! `X-Correlation-Id`.

use axum::http::HeaderMap;

/// `Idempotency-Key`: at most this many characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A header that is not 1 to `max` visible ASCII characters (or spaces). Handling: 400
/// naming it (`detail` is the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be 1 to {max} visible ASCII characters")]
pub struct BadHeader {
    pub name: String,
    pub max: usize,
}

/// The trimmed text of header `name`, if sent; refused unless it is 1 to `max` visible
/// ASCII characters.
pub fn text_header(
    headers: &HeaderMap,
    name: &str,
    max: usize,
) -> Result<Option<String>, BadHeader> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let bad = || BadHeader {
        name: name.to_owned(),
        max,
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text.is_empty()
        || text.len() > max
        || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

/// `Idempotency-Key`, if sent.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, BadHeader> {
    text_header(headers, "idempotency-key", MAX_IDEMPOTENCY_KEY)
}
