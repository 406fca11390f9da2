//! `orderflow-token`, the one command that makes a development token.

use std::process::Command;

use orderflow_auth::{AuthSettings, Authenticator, Principal, Role};

use crate::support::{TempDir, bearer};

fn orderflow_token(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orderflow-token"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn it_creates_the_key_and_prints_only_a_token_the_services_accept() {
    let dir = TempDir::new();
    let dir_arg = dir.path().join("dev-issuer");
    let dir_arg = dir_arg.to_str().unwrap();
    let args = ["--role", "operator", "--role", "customer", "--sub", "ops-1"];
    let output = orderflow_token(&[&args[..], &["--ttl", "15m", "--dir", dir_arg]].concat());
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.strip_suffix('\n').unwrap();
    assert_eq!(token.split('.').count(), 3, "only the token: {stdout}");

    let jwks = format!("{dir_arg}/jwks.json");
    let auth = Authenticator::start(&AuthSettings::with_jwks(jwks)).unwrap();
    let want = Principal::new("ops-1", [Role::Operator, Role::Customer]);
    assert_eq!(auth.verify(Some(&bearer(token))), Ok(want));
}

#[test]
fn its_help_shows_no_secret_and_bad_lifetimes_are_refused() {
    let help = orderflow_token(&["--help"]);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--role") && !help.contains("PRIVATE KEY"));
    let refused = orderflow_token(&["--role", "admin", "--sub", "a", "--ttl", "1w"]);
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty());
}
