//! The signature of a webhook delivery: `Orderflow-Signature: t=<unix seconds>,v1=<hex>`,
//! where `v1` is HMAC-SHA256, keyed with the subscription's secret, of `<t>.` followed by
//! the body's bytes. Signing the timestamp with the body lets a receiver refuse a replay:
//! it checks the MAC, then that `t` is recent. `docs/notifications.md` shows a receiver.

use aws_lc_rs::hmac;
use std::time::Duration;

/// The header that carries the signature.
pub const HEADER: &str = "Orderflow-Signature";

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<seconds>,v1=<hex>`.
    #[error("the signature header is not t=<seconds>,v1=<hex>")]
    Malformed,
    /// The MAC does not match: another secret, or a changed body or timestamp.
    #[error("the signature does not match the body")]
    Mismatch,
    /// Signed too long ago (or in the future): a replay, or a clock far off.
    #[error("the signature is {age_secs} s from now, more than the tolerance")]
    Stale { age_secs: u64 },
}

/// The header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body);
    format!("t={timestamp},v1={}", to_hex(tag.as_ref()))
}

/// Checks `header` against `body`, and that it was signed within `tolerance` of `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let (timestamp, tag) = parse(header).ok_or(SignatureError::Malformed)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    // Constant time: the comparison leaks nothing about the expected tag.
    hmac::verify(&key, &signed_bytes(timestamp, body), &tag)
        .map_err(|_| SignatureError::Mismatch)?;
    let age_secs = now.abs_diff(timestamp);
    if age_secs > tolerance.as_secs() {
        return Err(SignatureError::Stale { age_secs });
    }
    Ok(())
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::sign(&key, &signed_bytes(timestamp, body))
}

fn signed_bytes(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

/// `t=<seconds>,v1=<hex>`, fields in that order.
fn parse(header: &str) -> Option<(u64, Vec<u8>)> {
    let (t, v1) = header.trim().split_once(',')?;
    let timestamp = t.strip_prefix("t=")?.parse().ok()?;
    let tag = from_hex(v1.strip_prefix("v1=")?)?;
    Some((timestamp, tag))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test";
    const BODY: &[u8] = br#"{"id":"e-1","status":"shipped"}"#;
    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn a_receiver_with_the_secret_accepts_what_was_signed_just_now() {
        let header = sign(SECRET, 1_767_225_600, BODY);
        // The example of docs/notifications.md.
        assert_eq!(
            header,
            "t=1767225600,v1=ec94088ea68d3db1c6dd14f5bf023f94b7bdfc2c6884d32c8b2afd3609ced216"
        );
        assert_eq!(
            verify(SECRET, &header, BODY, 1_767_225_630, FIVE_MINUTES),
            Ok(())
        );
    }

    #[test]
    fn the_mac_matches_a_known_value() {
        // HMAC-SHA256(key "key", "0.") computed independently (Python's hmac module).
        assert_eq!(
            sign(b"key", 0, b""),
            "t=0,v1=85841b4efc3cd7776c3c8f9b7cca9e281c550e5d19889d78e9e669c6337f000d"
        );
    }

    #[test]
    fn another_secret_a_changed_body_or_timestamp_is_refused() {
        let header = sign(SECRET, 1_767_225_600, BODY);
        let now = 1_767_225_600;
        assert_eq!(
            verify(b"other", &header, BODY, now, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"{}", now, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
        let moved = header.replace("t=1767225600", "t=1767225601");
        assert_eq!(
            verify(SECRET, &moved, BODY, now, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_replay_after_the_tolerance_is_refused() {
        let header = sign(SECRET, 1_767_225_600, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_767_226_000, FIVE_MINUTES),
            Err(SignatureError::Stale { age_secs: 400 })
        );
    }

    #[test]
    fn a_header_of_another_shape_is_malformed() {
        for bad in ["", "v1=00,t=1", "t=x,v1=00", "t=1,v1=0g", "t=1,v1=abc"] {
            assert_eq!(
                verify(SECRET, bad, BODY, 1, FIVE_MINUTES),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
