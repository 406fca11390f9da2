//! A development issuer in a directory of the test's own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderValue;
use orderflow_auth::dev::DevIssuer;
use orderflow_auth::{AuthSettings, Role};

pub const HOUR: Duration = Duration::from_secs(3600);

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("orderflow-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An issuer whose `jwks.json` is in a directory of its own.
pub fn issuer() -> (DevIssuer, TempDir) {
    let dir = TempDir::new();
    (DevIssuer::load_or_create(dir.path()).unwrap(), dir)
}

/// Settings trusting `issuer`'s JWKS file.
pub fn settings_for(issuer: &DevIssuer) -> AuthSettings {
    let jwks = issuer.jwks_path().unwrap();
    AuthSettings::with_jwks(jwks.to_str().unwrap())
}

pub fn operator_token(issuer: &DevIssuer) -> String {
    issuer.token("ops-1", &[Role::Operator], HOUR)
}

pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
}

/// Polls `condition` every 50 ms for up to 10 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}
