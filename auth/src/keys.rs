//! The trusted signing keys: a JWKS parsed into verification keys by key id.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};

use crate::AuthError;

/// One verification key and the one algorithm it may verify.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one JWKS document.
pub(crate) struct KeySet {
    keys: Vec<Key>,
    /// A digest of the document, to notice a refresh that changed nothing.
    pub(crate) digest: [u8; 32],
}

impl KeySet {
    /// Parses a JWKS. Keys this service would never accept (symmetric ones, other curves,
    /// algorithms other than RS256/ES256/EdDSA) are skipped with a warning rather than
    /// failing the whole set, so an issuer may publish keys for other consumers too.
    pub(crate) fn parse(origin: &str, document: &[u8]) -> Result<KeySet, AuthError> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let invalid = |source| AuthError::InvalidJwks {
            origin: origin.to_owned(),
            source,
        };
        let parsed: Document = serde_json::from_slice(document).map_err(invalid)?;
        let keys: Vec<Key> = parsed
            .keys
            .into_iter()
            .filter_map(|value| match usable_key(value) {
                Ok(key) => Some(key),
                Err(why) => {
                    tracing::warn!(origin, why, "skipping a JWKS key");
                    None
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(AuthError::NoUsableKeys {
                origin: origin.to_owned(),
            });
        }
        Ok(KeySet {
            keys,
            digest: Sha256::digest(document).into(),
        })
    }

    /// The key a token's header names. A token without a `kid` is accepted only while the
    /// set has a single key, so it cannot pick among keys by trial.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// The key ids, for logs.
    pub(crate) fn kids(&self) -> Vec<&str> {
        let kids = self
            .keys
            .iter()
            .map(|key| key.kid.as_deref().unwrap_or("-"));
        kids.collect()
    }
}

fn usable_key(value: serde_json::Value) -> Result<Key, &'static str> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a JWK of a known type")?;
    let algorithm = algorithm_of(&jwk)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "its parameters are not a valid key")?;
    Ok(Key {
        kid: jwk.common.key_id,
        algorithm,
        key,
    })
}

/// The algorithm a key verifies: its `alg` if it has one, else the one its type implies.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => return Err("a symmetric key is never trusted"),
        _ => return Err("its curve is not P-256 or Ed25519"),
    };
    let declared = match jwk.common.key_algorithm {
        None => return Ok(implied),
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(_) => return Err("its alg is not RS256, ES256 or EdDSA"),
    };
    if declared == implied {
        Ok(declared)
    } else {
        Err("its alg does not match its key type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::DevIssuer;
    use serde_json::json;

    #[test]
    fn symmetric_and_unknown_keys_are_skipped_and_the_rest_kept() {
        let issuer = DevIssuer::ephemeral().unwrap();
        let mut jwks = issuer.jwks();
        let keys = jwks["keys"].as_array_mut().unwrap();
        keys.push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
        keys.push(json!({"kty": "weird", "kid": "w"}));
        let set = KeySet::parse("test", &serde_json::to_vec(&jwks).unwrap()).unwrap();
        assert_eq!(set.kids(), [issuer.kid()]);
        assert!(set.find(Some("hmac")).is_none());
        assert_eq!(set.find(None).unwrap().algorithm, Algorithm::ES256);
    }

    #[test]
    fn a_set_without_usable_keys_is_a_configuration_error() {
        let only_hmac = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        let error = KeySet::parse("test", only_hmac.to_string().as_bytes()).err();
        assert!(matches!(error, Some(AuthError::NoUsableKeys { .. })));
        let not_json = KeySet::parse("test", b"<html>").err();
        assert!(matches!(not_json, Some(AuthError::InvalidJwks { .. })));
    }

    #[test]
    fn a_key_whose_alg_contradicts_its_type_is_skipped() {
        let issuer = DevIssuer::ephemeral().unwrap();
        let mut jwks = issuer.jwks();
        jwks["keys"][0]["alg"] = json!("RS256");
        let error = KeySet::parse("test", jwks.to_string().as_bytes()).err();
        assert!(matches!(error, Some(AuthError::NoUsableKeys { .. })));
    }
}
