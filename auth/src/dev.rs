//! The development issuer: a local ES256 key under `.stack/dev-issuer/` that signs tokens
//! for any role, subject and lifetime, and the JWKS the local stack trusts by default.
//!
//! `cargo run -q -p orderflow-auth --bin orderflow-token -- --role operator --sub ops-1`
//! creates the key if it is missing and prints a token. Tests use [`DevIssuer`] through
//! `orderflow_testkit::tokens`, with a key of their own in a temporary directory.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::{AuthError, DEV_AUDIENCE, DEV_ISSUER, Role};

/// The private key file, PKCS#8 PEM, readable by its owner only.
pub const KEY_FILE: &str = "signing-key.pem";
/// The public key set the services read.
pub const JWKS_FILE: &str = "jwks.json";
/// Where `orderflow-token` keeps the issuer, relative to the repository root.
pub const DEFAULT_DIR: &str = ".stack/dev-issuer";

/// A signing key with its key id (the RFC 7638 thumbprint of its public key).
pub struct DevIssuer {
    key: EncodingKey,
    jwk: Jwk,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for DevIssuer {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid())
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// The issuer kept in `dir`: its key is read, or generated and written (mode 0600)
    /// when missing; `jwks.json` is (re)written when it does not match the key.
    pub fn load_or_create(dir: &Path) -> Result<DevIssuer, AuthError> {
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| AuthError::DevIssuerFile { path, source }
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(file_error(dir))?;
        let key_path = dir.join(KEY_FILE);
        let pem = match std::fs::read(&key_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem()?;
                write_private(&key_path, &pem).map_err(file_error(&key_path))?;
                tracing::info!(path = %key_path.display(), "created a development signing key");
                pem
            }
            Err(e) => return Err(file_error(&key_path)(e)),
        };
        let mut issuer = DevIssuer::from_pem(&pem)?;
        issuer.dir = Some(dir.to_owned());
        let jwks_path = dir.join(JWKS_FILE);
        let jwks = serde_json::to_vec_pretty(&issuer.jwks()).expect("a JWKS serializes");
        if std::fs::read(&jwks_path).ok().as_deref() != Some(jwks.as_slice()) {
            // Through a rename, so a service re-reading the file never sees half of it.
            let partial = dir.join(format!("{JWKS_FILE}.partial"));
            std::fs::write(&partial, &jwks).map_err(file_error(&partial))?;
            std::fs::rename(&partial, &jwks_path).map_err(file_error(&jwks_path))?;
        }
        Ok(issuer)
    }

    /// An issuer with a fresh key that lives in memory only.
    pub fn ephemeral() -> Result<DevIssuer, AuthError> {
        DevIssuer::from_pem(&generate_pem()?)
    }

    fn from_pem(pem: &[u8]) -> Result<DevIssuer, AuthError> {
        let key = EncodingKey::from_ec_pem(pem).map_err(AuthError::DevIssuerKey)?;
        let mut jwk =
            Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(AuthError::DevIssuerKey)?;
        jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256));
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(DevIssuer {
            key,
            jwk,
            dir: None,
        })
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap_or_default()
    }

    /// The JWKS of the public key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The `jwks.json` the services should trust (`None` for an ephemeral issuer).
    pub fn jwks_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(JWKS_FILE))
    }

    /// A token for `subject` with `roles`, valid for `ttl` from now.
    pub fn token(&self, subject: &str, roles: &[Role], ttl: Duration) -> String {
        self.sign(&claims(subject, roles, ttl))
    }

    /// Signs any claims as they are: for tests that need expired, wrong-audience or
    /// not-yet-valid tokens.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(self.kid(), claims)
    }

    /// Signs with this key but names another key id: a forged token, for tests.
    pub fn sign_with_kid(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).expect("ES256 signs any claims")
    }
}

/// The claims of a development token: issuer and audience of the development issuer,
/// `iat` now, `exp` after `ttl`.
pub fn claims(subject: &str, roles: &[Role], ttl: Duration) -> Value {
    let now = unix_now();
    let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    json!({
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now + ttl.as_secs(),
    })
}

/// Seconds since the epoch: what `iat`, `nbf` and `exp` count.
pub fn unix_now() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    since_epoch.map_or(0, |d| d.as_secs())
}

/// A lifetime such as `90s`, `15m`, `1h` or `7d` (a bare number is seconds).
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a lifetime such as 90s, 15m, 1h or 7d"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{unit}` is not a unit of s, m, h or d")),
    };
    let secs = number
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("`{text}` is too long a lifetime"))?;
    Ok(Duration::from_secs(secs))
}

fn generate_pem() -> Result<Vec<u8>, AuthError> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(AuthError::KeyGeneration)?;
    let der = pair.to_pkcs8v1().map_err(AuthError::KeyGeneration)?;
    let base64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem.into_bytes())
}

/// Creates `path` readable by its owner only; never replaces an existing key.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("orderflow-dev-issuer-{}", uuid()));
        assert!(!dir.exists());
        dir
    }

    fn uuid() -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{}-{nanos}", std::process::id())
    }

    #[test]
    fn the_key_is_created_once_private_and_reused() {
        let dir = temp_dir();
        let first = DevIssuer::load_or_create(&dir).unwrap();
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = DevIssuer::load_or_create(&dir).unwrap();
        assert_eq!(first.kid(), again.kid());
        let jwks: Value =
            serde_json::from_slice(&std::fs::read(dir.join(JWKS_FILE)).unwrap()).unwrap();
        assert_eq!(jwks, first.jwks());
        assert_eq!(jwks["keys"][0]["kid"], first.kid());
        assert_eq!(jwks["keys"][0]["crv"], "P-256");
        assert!(
            jwks["keys"][0].get("d").is_none(),
            "the JWKS holds no private part"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_deleted_jwks_is_written_again_from_the_key() {
        let dir = temp_dir();
        let issuer = DevIssuer::load_or_create(&dir).unwrap();
        std::fs::remove_file(dir.join(JWKS_FILE)).unwrap();
        DevIssuer::load_or_create(&dir).unwrap();
        assert_eq!(issuer.jwks_path(), Some(dir.join(JWKS_FILE)));
        assert!(dir.join(JWKS_FILE).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn debug_output_shows_the_kid_and_never_the_key() {
        let issuer = DevIssuer::ephemeral().unwrap();
        let debug = format!("{issuer:?}");
        assert!(debug.contains(issuer.kid()));
        assert!(!debug.contains("PRIVATE"));
    }

    #[test]
    fn lifetimes_read_as_seconds_minutes_hours_and_days() {
        let secs = Duration::from_secs;
        assert_eq!(parse_ttl("90s"), Ok(secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(secs(900)));
        assert_eq!(parse_ttl("1h"), Ok(secs(3_600)));
        assert_eq!(parse_ttl("7d"), Ok(secs(604_800)));
        assert_eq!(parse_ttl("45"), Ok(secs(45)));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("-5m").is_err());
    }
}
