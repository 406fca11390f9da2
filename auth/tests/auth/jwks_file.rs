//! Trusting a JWKS file: read at start, re-read, and the verdicts of the cache.

use std::time::Duration;

use axum::http::HeaderValue;
use orderflow_auth::dev::{DevIssuer, claims, unix_now};
use orderflow_auth::{AuthError, Authenticator, InvalidToken, Principal, Rejection, Role};
use serde_json::json;

use crate::support::{HOUR, TempDir, bearer, eventually, issuer, operator_token, settings_for};

#[tokio::test]
async fn a_valid_token_makes_its_principal() {
    let (issuer, _dir) = issuer();
    let auth = Authenticator::start(&settings_for(&issuer)).unwrap();
    let token = issuer.token("c-1", &[Role::Customer], HOUR);
    assert_eq!(
        auth.verify(Some(&bearer(&token))),
        Ok(Principal::new("c-1", [Role::Customer]))
    );
    assert!(auth.is_enabled());
}

#[tokio::test]
async fn the_header_must_carry_a_bearer_token() {
    let (issuer, _dir) = issuer();
    let auth = Authenticator::start(&settings_for(&issuer)).unwrap();
    let token = operator_token(&issuer);
    let lower_case = HeaderValue::from_str(&format!("bearer {token}")).unwrap();
    assert!(auth.verify(Some(&lower_case)).is_ok());
    let cases = [
        (None, Rejection::Missing),
        (Some("Basic b3BzOnNlY3JldA=="), Rejection::NotBearer),
        (Some("Bearer"), InvalidToken::Malformed.into()),
        (Some("Bearer    "), InvalidToken::Malformed.into()),
        (Some("Bearer garbage"), InvalidToken::Malformed.into()),
    ];
    for (header, rejection) in cases {
        let header = header.map(HeaderValue::from_static);
        assert_eq!(auth.verify(header.as_ref()), Err(rejection), "{header:?}");
    }
}

#[tokio::test]
async fn an_unreadable_or_invalid_jwks_file_fails_start_up() {
    let dir = TempDir::new();
    let missing = dir.path().join("missing.json");
    let settings = orderflow_auth::AuthSettings::with_jwks(missing.to_str().unwrap());
    let error = Authenticator::start(&settings).err();
    assert!(
        matches!(error, Some(AuthError::ReadJwks { .. })),
        "{error:?}"
    );

    let invalid = dir.path().join("invalid.json");
    std::fs::write(&invalid, "{\"keys\": 1}").unwrap();
    let settings = orderflow_auth::AuthSettings::with_jwks(invalid.to_str().unwrap());
    let error = Authenticator::start(&settings).err();
    assert!(
        matches!(error, Some(AuthError::InvalidJwks { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn disabled_authentication_makes_everyone_the_anonymous_principal() {
    let auth = Authenticator::start(&orderflow_auth::AuthSettings::disabled()).unwrap();
    assert!(!auth.is_enabled());
    assert_eq!(auth.verify(None), Ok(Principal::anonymous()));
    let garbage = HeaderValue::from_static("Bearer garbage");
    assert_eq!(auth.verify(Some(&garbage)), Ok(Principal::anonymous()));
}

#[tokio::test]
async fn a_cached_token_is_still_refused_once_it_expires() {
    let (issuer, _dir) = issuer();
    let mut settings = settings_for(&issuer);
    settings.leeway_secs = 0;
    let auth = Authenticator::start(&settings).unwrap();
    let mut claims = claims("ops-1", &[Role::Operator], HOUR);
    claims["exp"] = json!(unix_now() + 1);
    let token = bearer(&issuer.sign(&claims));
    assert!(auth.verify(Some(&token)).is_ok());
    assert!(auth.verify(Some(&token)).is_ok(), "a hit of the cache");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(auth.verify(Some(&token)), Err(InvalidToken::Expired.into()));
}

#[tokio::test]
async fn a_rotated_jwks_file_is_trusted_after_the_refresh_and_the_old_key_no_more() {
    let (old, dir) = issuer();
    let mut settings = settings_for(&old);
    settings.jwks_refresh_secs = 1;
    let auth = Authenticator::start(&settings).unwrap();
    let old_token = bearer(&operator_token(&old));
    assert!(auth.verify(Some(&old_token)).is_ok());

    let new = DevIssuer::ephemeral().unwrap();
    let new_token = bearer(&operator_token(&new));
    assert_eq!(
        auth.verify(Some(&new_token)),
        Err(InvalidToken::UnknownKeyId.into())
    );
    let jwks = old.jwks_path().unwrap();
    let partial = dir.path().join("jwks.json.partial");
    std::fs::write(&partial, new.jwks().to_string()).unwrap();
    std::fs::rename(&partial, &jwks).unwrap();

    eventually("the new key is trusted", || {
        auth.verify(Some(&new_token)).is_ok()
    })
    .await;
    assert_eq!(
        auth.verify(Some(&old_token)),
        Err(InvalidToken::UnknownKeyId.into()),
        "the cached verdict on the old key is forgotten with it"
    );
}
