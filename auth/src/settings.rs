//! The authentication settings every API flattens into its own clap settings.

/// The issuer (`iss`) of the development issuer's tokens, and the default one trusted.
pub const DEV_ISSUER: &str = "orderflow-dev-issuer";
/// The audience (`aud`) of the development issuer's tokens, and the default one required.
pub const DEV_AUDIENCE: &str = "orderflow";
/// Where `orderflow-token` keeps the development issuer, relative to the repository root.
pub const DEV_JWKS: &str = ".stack/dev-issuer/jwks.json";

/// Whether requests must carry a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    Enabled,
    /// Every request is the anonymous principal with every role: for local experiments
    /// only, and never the default.
    Disabled,
}

/// How the APIs verify bearer tokens.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthSettings {
    /// enabled | disabled
    #[arg(
        id = "auth_mode",
        long = "auth",
        env = "ORDERFLOW_AUTH",
        default_value = "enabled"
    )]
    pub mode: AuthMode,
    /// JWKS: a file path or an http(s) URL
    #[arg(long = "auth-jwks", env = "ORDERFLOW_AUTH_JWKS", default_value = DEV_JWKS)]
    pub jwks: String,
    /// The issuer (`iss`) tokens must name
    #[arg(long = "auth-issuer", env = "ORDERFLOW_AUTH_ISSUER", default_value = DEV_ISSUER)]
    pub issuer: String,
    /// The audience (`aud`) tokens must name
    #[arg(long = "auth-audience", env = "ORDERFLOW_AUTH_AUDIENCE", default_value = DEV_AUDIENCE)]
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds
    #[arg(
        long = "auth-leeway-secs",
        env = "ORDERFLOW_AUTH_LEEWAY_SECS",
        default_value_t = 30
    )]
    pub leeway_secs: u64,
    /// How often the JWKS is read again, in seconds
    #[arg(
        long = "auth-jwks-refresh-secs",
        env = "ORDERFLOW_AUTH_JWKS_REFRESH_SECS",
        default_value_t = 300
    )]
    pub jwks_refresh_secs: u64,
}

impl AuthSettings {
    /// Authentication off: every request is the anonymous principal.
    pub fn disabled() -> Self {
        AuthSettings {
            mode: AuthMode::Disabled,
            ..AuthSettings::with_jwks(DEV_JWKS)
        }
    }

    /// Authentication on, trusting the keys of `jwks` (a file or a URL), with the
    /// development issuer's `iss` and `aud` and the default leeway and refresh period.
    pub fn with_jwks(jwks: impl Into<String>) -> Self {
        AuthSettings {
            mode: AuthMode::Enabled,
            jwks: jwks.into(),
            issuer: DEV_ISSUER.to_owned(),
            audience: DEV_AUDIENCE.to_owned(),
            leeway_secs: 30,
            jwks_refresh_secs: 300,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthSettings,
    }

    #[test]
    fn the_defaults_trust_the_development_issuer_with_auth_on() {
        let cli = Cli::try_parse_from(["test"]).unwrap();
        assert_eq!(cli.auth.mode, AuthMode::Enabled);
        assert_eq!(cli.auth.jwks, DEV_JWKS);
        assert_eq!(cli.auth.issuer, DEV_ISSUER);
        assert_eq!(cli.auth.audience, DEV_AUDIENCE);
        assert_eq!(cli.auth.leeway_secs, 30);
    }

    #[test]
    fn auth_is_turned_off_only_by_saying_disabled() {
        let cli = Cli::try_parse_from(["test", "--auth", "disabled"]).unwrap();
        assert_eq!(cli.auth.mode, AuthMode::Disabled);
        assert!(Cli::try_parse_from(["test", "--auth", "off"]).is_err());
    }
}
