//! Tokens for tests: [`TestIssuer`], a development issuer whose key lives in a temporary
//! directory of its own (never `.stack/`), and whose JWKS the services under test trust
//! through [`TestIssuer::settings`].

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use orderflow_auth::dev::{self, DevIssuer};
use orderflow_auth::{AuthSettings, Role};
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);

/// A signing key and its `jwks.json`, removed with the issuer.
pub struct TestIssuer {
    issuer: DevIssuer,
    dir: PathBuf,
}

impl TestIssuer {
    /// A fresh key in a fresh temporary directory.
    pub fn new() -> TestIssuer {
        let dir = std::env::temp_dir().join(format!("orderflow-issuer-{}", uuid::Uuid::new_v4()));
        let issuer = DevIssuer::load_or_create(&dir).expect("a test issuer in a temp dir");
        TestIssuer { issuer, dir }
    }

    /// One issuer for the whole test process, so every service a test starts trusts the
    /// same tokens. (Its directory outlives the process: statics are never dropped.)
    pub fn shared() -> &'static TestIssuer {
        static SHARED: OnceLock<TestIssuer> = OnceLock::new();
        SHARED.get_or_init(TestIssuer::new)
    }

    /// Authentication on, trusting this issuer's JWKS file.
    pub fn settings(&self) -> AuthSettings {
        let jwks = self
            .issuer
            .jwks_path()
            .expect("a test issuer keeps a JWKS file");
        AuthSettings::with_jwks(jwks.to_str().expect("a UTF-8 temp dir"))
    }

    /// The development issuer underneath, for anything not covered here.
    pub fn dev(&self) -> &DevIssuer {
        &self.issuer
    }

    /// A token valid for an hour for `sub` with `roles`.
    pub fn token(&self, sub: &str, roles: &[Role]) -> String {
        self.issuer.token(sub, roles, HOUR)
    }

    pub fn operator(&self) -> String {
        self.token("ops-1", &[Role::Operator])
    }

    pub fn admin(&self) -> String {
        self.token("admin-1", &[Role::Admin])
    }

    /// A customer's token: `customer_id` is its `sub`.
    pub fn customer(&self, customer_id: &str) -> String {
        self.token(customer_id, &[Role::Customer])
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Value) -> String {
        self.issuer.sign(claims)
    }

    /// A token of `role` for `sub` that expired an hour ago (well beyond any leeway).
    pub fn expired(&self, role: Role, sub: &str) -> String {
        let mut claims = dev::claims(sub, &[role], HOUR);
        let now = dev::unix_now();
        claims["iat"] = json!(now - 2 * 3600);
        claims["exp"] = json!(now - 3600);
        self.sign(&claims)
    }

    /// A token of `role` for `sub` meant for another audience.
    pub fn for_audience(&self, audience: &str, role: Role, sub: &str) -> String {
        let mut claims = dev::claims(sub, &[role], HOUR);
        claims["aud"] = json!(audience);
        self.sign(&claims)
    }

    /// An operator token with this issuer's kid, issuer and audience, signed by a
    /// different key: its signature does not verify.
    pub fn stranger(&self) -> String {
        let stranger = DevIssuer::ephemeral().expect("a key in memory");
        let claims = dev::claims("ops-1", &[Role::Operator], HOUR);
        stranger.sign_with_kid(self.issuer.kid(), &claims)
    }

    /// `Authorization: Bearer <operator token>`, for clients that act as staff.
    pub fn operator_headers(&self) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {}", self.operator());
        let value = reqwest::header::HeaderValue::from_str(&value).expect("a token is ASCII");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        headers
    }

    /// A client that sends an operator token with every request.
    pub fn operator_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .default_headers(self.operator_headers())
            .build()
            .expect("a client")
    }

    /// Every kind of caller of an auth matrix, for resources of the customer `owner`:
    /// `owner`, `other customer`, `operator`, `admin`, and the refused ones (no token,
    /// expired, wrong audience, wrong issuer, wrong signing key, no roles, garbage).
    pub fn callers(&self, owner: &str) -> Vec<(&'static str, Option<String>)> {
        let mut wrong_issuer = dev::claims("ops-1", &[Role::Operator], HOUR);
        wrong_issuer["iss"] = json!("someone-else");
        let no_roles = dev::claims("ops-1", &[], HOUR);
        vec![
            ("owner", Some(self.customer(owner))),
            (
                "other customer",
                Some(self.customer(&format!("not-{owner}"))),
            ),
            ("operator", Some(self.operator())),
            ("admin", Some(self.admin())),
            ("no token", None),
            ("expired token", Some(self.expired(Role::Operator, "ops-1"))),
            (
                "wrong audience",
                Some(self.for_audience("billing", Role::Operator, "ops-1")),
            ),
            ("wrong issuer", Some(self.sign(&wrong_issuer))),
            ("wrong signing key", Some(self.stranger())),
            ("no roles", Some(self.sign(&no_roles))),
            ("garbage", Some("not-a-jwt".to_owned())),
        ]
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        TestIssuer::new()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_auth::{Authenticator, InvalidToken, Principal, Rejection};

    fn verdict(auth: &Authenticator, token: Option<&str>) -> Result<Principal, Rejection> {
        let header = token.map(|t| format!("Bearer {t}").parse().unwrap());
        auth.verify(header.as_ref())
    }

    #[tokio::test]
    async fn each_caller_of_the_matrix_gets_the_verdict_its_name_says() {
        let issuer = TestIssuer::new();
        let auth = Authenticator::start(&issuer.settings()).unwrap();
        let invalid = |reason: InvalidToken| Err(Rejection::Invalid(reason));
        for (caller, token) in issuer.callers("cust-1") {
            let got = verdict(&auth, token.as_deref());
            let want = match caller {
                "owner" => Ok(Principal::new("cust-1", [Role::Customer])),
                "other customer" => Ok(Principal::new("not-cust-1", [Role::Customer])),
                "operator" => Ok(Principal::new("ops-1", [Role::Operator])),
                "admin" => Ok(Principal::new("admin-1", [Role::Admin])),
                "no token" => Err(Rejection::Missing),
                "expired token" => invalid(InvalidToken::Expired),
                "wrong audience" => invalid(InvalidToken::WrongAudience),
                "wrong issuer" => invalid(InvalidToken::WrongIssuer),
                "wrong signing key" => invalid(InvalidToken::BadSignature),
                "no roles" => invalid(InvalidToken::NoRoles),
                _ => invalid(InvalidToken::Malformed),
            };
            assert_eq!(got, want, "{caller}");
        }
    }

    #[test]
    fn the_key_goes_with_the_issuer() {
        let issuer = TestIssuer::new();
        let dir = issuer.dir.clone();
        assert!(dir.join("signing-key.pem").exists());
        drop(issuer);
        assert!(!dir.exists());
    }
}
