//! Verifying one token against a key set: the rules, with no I/O and no cache.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::keys::KeySet;
use crate::{InvalidToken, Principal, Role};

/// Longer tokens are refused before any decoding: real ones are well under 2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A token that passed every check.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) principal: Principal,
    /// Its `exp`, in seconds since the epoch.
    pub(crate) expires_at: u64,
}

/// What a token must satisfy besides its signature: one [`Validation`] per allowed
/// algorithm, built once, since each holds sets that would cost allocations per request.
pub(crate) struct Policy {
    validations: [(Algorithm, Validation); 3],
    pub(crate) leeway_secs: u64,
}

impl Policy {
    pub(crate) fn new(issuer: &str, audience: &str, leeway_secs: u64) -> Policy {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[issuer]);
            validation.set_audience(&[audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = leeway_secs;
            (algorithm, validation)
        };
        Policy {
            validations: [
                validation(Algorithm::RS256),
                validation(Algorithm::ES256),
                validation(Algorithm::EdDSA),
            ],
            leeway_secs,
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Option<&Validation> {
        let mut found = self.validations.iter().filter(|(a, _)| *a == algorithm);
        found.next().map(|(_, validation)| validation)
    }
}

/// Checks `token` against `keys` and `policy`: algorithm, key, signature, then claims.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    policy: &Policy,
) -> Result<Verified, InvalidToken> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(InvalidToken::Malformed);
    }
    let header = Header::parse(token)?;
    // Decided from the raw name, before any key is touched: `none` and HMAC names never
    // reach the crypto, whatever key the `kid` picks.
    let algorithm = match header.alg.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        _ => return Err(InvalidToken::AlgorithmNotAllowed),
    };
    let key = keys
        .find(header.kid.as_deref())
        .ok_or(InvalidToken::UnknownKeyId)?;
    if key.algorithm != algorithm {
        return Err(InvalidToken::AlgorithmNotAllowed);
    }
    let validation = policy
        .validation(algorithm)
        .ok_or(InvalidToken::AlgorithmNotAllowed)?;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
        .map_err(|e| reason(e.into_kind()))?
        .claims;
    principal_of(&claims)
}

/// The part of the header this service reads, parsed by hand so that algorithms
/// `jsonwebtoken` cannot even name (`none`) get their own answer.
#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl Header {
    fn parse(token: &str) -> Result<Header, InvalidToken> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidToken::Malformed);
        };
        let json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| InvalidToken::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| InvalidToken::Malformed)
    }
}

fn reason(kind: ErrorKind) -> InvalidToken {
    match kind {
        ErrorKind::ExpiredSignature => InvalidToken::Expired,
        ErrorKind::ImmatureSignature => InvalidToken::NotYetValid,
        ErrorKind::InvalidAudience => InvalidToken::WrongAudience,
        ErrorKind::InvalidIssuer => InvalidToken::WrongIssuer,
        ErrorKind::InvalidSignature => InvalidToken::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            InvalidToken::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            InvalidToken::MissingClaim(match claim.as_str() {
                "exp" => "exp",
                "iss" => "iss",
                "aud" => "aud",
                _ => "sub",
            })
        }
        _ => InvalidToken::Malformed,
    }
}

/// The principal of verified claims: `sub` and the known names of `roles`. A token that
/// grants none of this service's roles is refused here rather than let through to fail
/// every authorization check with a confusing 403.
fn principal_of(claims: &Map<String, Value>) -> Result<Verified, InvalidToken> {
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub,
        _ => return Err(InvalidToken::MissingClaim("sub")),
    };
    let expires_at = claims
        .get("exp")
        .and_then(|exp| {
            exp.as_u64()
                .or_else(|| exp.as_f64().map(|secs| secs as u64))
        })
        .ok_or(InvalidToken::MissingClaim("exp"))?;
    let roles: Vec<Role> = match claims.get("roles") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|name| name.as_str().and_then(Role::from_claim))
            .collect(),
        _ => Vec::new(),
    };
    if roles.is_empty() {
        return Err(InvalidToken::NoRoles);
    }
    Ok(Verified {
        principal: Principal::new(subject.as_str(), roles),
        expires_at,
    })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
