//! [`Authenticator`]: the trusted keys, kept fresh in the background, and the verification
//! of each request's bearer token; [`authenticate`], the middleware that applies it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use orderflow_platform::Backoff;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::cache::TokenCache;
use crate::dev::unix_now;
use crate::keys::KeySet;
use crate::verify::{Policy, verify};
use crate::{AuthError, AuthMode, AuthSettings, DEV_ISSUER, InvalidToken, Principal, Rejection};

/// Verified tokens remembered at most this long, so a key withdrawn from the JWKS stops
/// working soon even for tokens already seen.
const CACHE_MAX_AGE: Duration = Duration::from_secs(60);
const CACHE_CAPACITY: usize = 10_000;
/// A token naming an unknown key id triggers a JWKS refresh at most this often, so a
/// flood of forged `kid`s cannot hammer the issuer.
const UNKNOWN_KID_REFRESH_EVERY: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Verifies bearer tokens. Cheap to clone; the background refresh ends with the last clone.
#[derive(Clone)]
pub struct Authenticator {
    /// `None` when authentication is disabled.
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

struct Inner {
    policy: Policy,
    /// `None` until a JWKS URL first answers.
    keys: RwLock<Option<Arc<KeySet>>>,
    cache: TokenCache,
    refresh_now: Arc<Notify>,
    last_kid_refresh: Mutex<Option<Instant>>,
    _stop_refreshing: DropGuard,
}

/// Where the JWKS comes from.
enum Source {
    File(PathBuf),
    Url(reqwest::Client, String),
}

impl Authenticator {
    /// Starts verifying with `settings`. Must be called inside a tokio runtime. A JWKS file
    /// is read now (an unreadable or invalid one fails start-up) and re-read every refresh
    /// period; a URL is fetched in the background with retries, and until it first
    /// answers, requests get 503. A token naming an unknown `kid` triggers an early
    /// refresh (at most every 30 s), so a rotated issuer key is picked up soon.
    pub fn start(settings: &AuthSettings) -> Result<Authenticator, AuthError> {
        if settings.mode == AuthMode::Disabled {
            tracing::warn!(
                "AUTHENTICATION IS DISABLED (ORDERFLOW_AUTH=disabled): every request acts with \
                 every role; /readyz reports it. Never run this way outside a laptop."
            );
            return Ok(Authenticator::disabled());
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(AuthError::NoRuntime)?;
        let source = Source::of(&settings.jwks)?;
        let keys = match &source {
            Source::File(path) => Some(Arc::new(read_file(path)?)),
            Source::Url(..) => None,
        };
        if let Some(keys) = &keys {
            tracing::info!(jwks = %settings.jwks, kids = ?keys.kids(), "trusting the JWKS");
        }
        if settings.issuer == DEV_ISSUER {
            tracing::warn!(
                "trusting the development issuer: for the local stack only; set \
                 ORDERFLOW_AUTH_JWKS, _ISSUER and _AUDIENCE to your identity provider's"
            );
        }
        let stop = CancellationToken::new();
        let refresh_now = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            policy: Policy::new(&settings.issuer, &settings.audience, settings.leeway_secs),
            keys: RwLock::new(keys),
            cache: TokenCache::new(CACHE_CAPACITY, CACHE_MAX_AGE),
            refresh_now: refresh_now.clone(),
            last_kid_refresh: Mutex::new(None),
            _stop_refreshing: stop.clone().drop_guard(),
        });
        let refresher = Refresher {
            inner: Arc::downgrade(&inner),
            source,
            period: Duration::from_secs(settings.jwks_refresh_secs.max(1)),
            refresh_now,
            stop,
        };
        runtime.spawn(refresher.run());
        Ok(Authenticator { inner: Some(inner) })
    }

    /// No authentication: every request is [`Principal::anonymous`].
    pub fn disabled() -> Authenticator {
        Authenticator { inner: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether requests can be authenticated now: off, or on with keys loaded. A JWKS URL
    /// that has not answered yet leaves every request at 503, so `/readyz` says so too.
    pub fn is_ready(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.current_keys().is_some())
    }

    /// What `/readyz` reports: `disabled`, `enabled`, or `waiting for the JWKS`.
    pub fn status(&self) -> &'static str {
        match (self.is_enabled(), self.is_ready()) {
            (false, _) => "disabled",
            (true, true) => "enabled",
            (true, false) => "waiting for the JWKS",
        }
    }

    /// The principal of a request with this `Authorization` header.
    pub fn verify(&self, authorization: Option<&HeaderValue>) -> Result<Principal, Rejection> {
        let Some(inner) = &self.inner else {
            return Ok(Principal::anonymous());
        };
        let token = bearer_token(authorization)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        let leeway = inner.policy.leeway_secs;
        if let Some(verdict) = inner.cache.get(&digest, now, leeway).verdict() {
            return Ok(verdict?);
        }
        let keys = inner.current_keys().ok_or(Rejection::KeysNotLoaded)?;
        match verify(token, &keys, &inner.policy) {
            Ok(verified) => {
                let principal = verified.principal;
                let expires_at = verified.expires_at;
                inner
                    .cache
                    .insert(digest, principal.clone(), expires_at, now);
                Ok(principal)
            }
            Err(InvalidToken::UnknownKeyId) => {
                inner.refresh_soon();
                Err(InvalidToken::UnknownKeyId.into())
            }
            Err(invalid) => Err(invalid.into()),
        }
    }
}

/// The axum middleware: verifies the bearer token and puts the [`Principal`] into the
/// request's extensions (for [`crate::Caller`]), or answers 401/503 itself.
///
/// `router.layer(axum::middleware::from_fn_with_state(authenticator, authenticate))`
pub async fn authenticate(
    State(auth): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    match auth.verify(request.headers().get(header::AUTHORIZATION)) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(rejection) => {
            tracing::debug!(reason = %rejection, "request not authenticated");
            rejection.into_response()
        }
    }
}

/// The token of a `Bearer` header (the scheme is case-insensitive, RFC 7235).
fn bearer_token(authorization: Option<&HeaderValue>) -> Result<&str, Rejection> {
    let value = authorization.ok_or(Rejection::Missing)?;
    let value = value.to_str().map_err(|_| InvalidToken::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::NotBearer);
    }
    match token.trim() {
        "" => Err(InvalidToken::Malformed.into()),
        token => Ok(token),
    }
}

impl Inner {
    fn current_keys(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs a freshly read key set; verified tokens are forgotten if it changed.
    fn install(&self, keys: KeySet, origin: &str) {
        let mut current = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|c| c.digest == keys.digest) {
            return;
        }
        tracing::info!(jwks = origin, kids = ?keys.kids(), "trusting the JWKS");
        *current = Some(Arc::new(keys));
        drop(current);
        self.cache.clear();
    }

    /// Wakes the refresher early, unless it was woken so less than 30 s ago.
    fn refresh_soon(&self) {
        let mut last = self
            .last_kid_refresh
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= UNKNOWN_KID_REFRESH_EVERY) {
            *last = Some(Instant::now());
            self.refresh_now.notify_one();
        }
    }
}

impl Source {
    fn of(jwks: &str) -> Result<Source, AuthError> {
        if jwks.starts_with("http://") || jwks.starts_with("https://") {
            if jwks.starts_with("http://") {
                tracing::warn!(jwks, "fetching the signing keys over plain http: use https");
            }
            let client = reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .map_err(|source| AuthError::FetchJwks {
                    origin: jwks.to_owned(),
                    source,
                })?;
            Ok(Source::Url(client, jwks.to_owned()))
        } else {
            Ok(Source::File(PathBuf::from(jwks)))
        }
    }

    fn origin(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Url(_, url) => url.clone(),
        }
    }

    async fn load(&self) -> Result<KeySet, AuthError> {
        match self {
            Source::File(path) => {
                let owned = path.clone();
                let read = tokio::task::spawn_blocking(move || read_file(&owned)).await;
                read.unwrap_or_else(|e| {
                    let source = std::io::Error::other(e);
                    let path = path.clone();
                    Err(AuthError::ReadJwks { path, source })
                })
            }
            Source::Url(client, url) => {
                let fetch_error = |source| AuthError::FetchJwks {
                    origin: url.clone(),
                    source,
                };
                let response = client.get(url).send().await.map_err(fetch_error)?;
                let body = response.error_for_status().map_err(fetch_error)?;
                let bytes = body.bytes().await.map_err(fetch_error)?;
                KeySet::parse(url, &bytes)
            }
        }
    }
}

fn read_file(path: &PathBuf) -> Result<KeySet, AuthError> {
    let document = std::fs::read(path).map_err(|source| AuthError::ReadJwks {
        path: path.clone(),
        source,
    })?;
    KeySet::parse(&path.display().to_string(), &document)
}

/// The background task that keeps the keys fresh.
struct Refresher {
    /// Weak, so that dropping the last [`Authenticator`] ends the task.
    inner: Weak<Inner>,
    source: Source,
    period: Duration,
    refresh_now: Arc<Notify>,
    stop: CancellationToken,
}

impl Refresher {
    async fn run(self) {
        let origin = self.source.origin();
        // Failed loads are retried sooner than the period, but never more often than it
        // asks for when the period is short.
        let cap = self.period.min(Duration::from_secs(30));
        let mut backoff = Backoff::new(Duration::from_millis(200).min(cap), cap);
        let mut wait = match self.source {
            Source::File(_) => self.period,
            Source::Url(..) => Duration::ZERO,
        };
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.refresh_now.notified() => {}
            }
            let result = self.source.load().await;
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            match result {
                Ok(keys) => {
                    inner.install(keys, &origin);
                    backoff.reset();
                    wait = self.period;
                }
                Err(error) => {
                    let loaded = inner.current_keys().is_some();
                    wait = backoff.advance();
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        jwks = origin,
                        keeping_previous_keys = loaded,
                        retry_in = ?wait,
                        "cannot load the JWKS"
                    );
                }
            }
        }
    }
}
