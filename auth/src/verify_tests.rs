//! The verification rules, case by case.

mod issued {
    use super::super::*;
    use crate::dev::{DevIssuer, claims, unix_now};
    use crate::{DEV_AUDIENCE, DEV_ISSUER};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    struct Fixture {
        issuer: DevIssuer,
        keys: KeySet,
        policy: Policy,
    }

    fn fixture() -> Fixture {
        let issuer = DevIssuer::ephemeral().unwrap();
        let keys = KeySet::parse("test", issuer.jwks().to_string().as_bytes()).unwrap();
        let policy = Policy::new(DEV_ISSUER, DEV_AUDIENCE, 30);
        Fixture {
            issuer,
            keys,
            policy,
        }
    }

    impl Fixture {
        fn check(&self, token: &str) -> Result<Principal, InvalidToken> {
            verify(token, &self.keys, &self.policy).map(|verified| verified.principal)
        }

        /// Valid operator claims with `change` applied.
        fn signed(&self, change: impl FnOnce(&mut Value)) -> String {
            let mut claims = claims("ops-1", &[Role::Operator], HOUR);
            change(&mut claims);
            self.issuer.sign(&claims)
        }
    }

    fn b64(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    #[test]
    fn valid_tokens_of_each_role_make_their_principal() {
        let f = fixture();
        let cases = [
            ("c-1", vec![Role::Customer]),
            ("ops-1", vec![Role::Operator]),
            ("root", vec![Role::Admin]),
            ("both", vec![Role::Operator, Role::Admin]),
        ];
        for (sub, roles) in cases {
            let token = f.issuer.token(sub, &roles, HOUR);
            assert_eq!(f.check(&token), Ok(Principal::new(sub, roles)), "{sub}");
        }
    }

    #[test]
    fn each_broken_claim_is_refused_with_its_reason() {
        let f = fixture();
        let now = unix_now();
        type Change = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Change, InvalidToken)> = vec![
            (
                "expired beyond the leeway",
                Box::new(move |c| c["exp"] = json!(now - 31)),
                InvalidToken::Expired,
            ),
            (
                "nbf in the future",
                Box::new(move |c| c["nbf"] = json!(now + 120)),
                InvalidToken::NotYetValid,
            ),
            (
                "another issuer",
                Box::new(|c| c["iss"] = json!("someone-else")),
                InvalidToken::WrongIssuer,
            ),
            (
                "another audience",
                Box::new(|c| c["aud"] = json!("billing")),
                InvalidToken::WrongAudience,
            ),
            (
                "no exp",
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))),
                InvalidToken::MissingClaim("exp"),
            ),
            (
                "no sub",
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("sub"))),
                InvalidToken::MissingClaim("sub"),
            ),
            (
                "no roles claim",
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("roles"))),
                InvalidToken::NoRoles,
            ),
            (
                "empty roles",
                Box::new(|c| c["roles"] = json!([])),
                InvalidToken::NoRoles,
            ),
            (
                "only unknown roles",
                Box::new(|c| c["roles"] = json!(["superuser", 7])),
                InvalidToken::NoRoles,
            ),
            (
                "roles not an array",
                Box::new(|c| c["roles"] = json!("operator")),
                InvalidToken::NoRoles,
            ),
        ];
        for (case, change, reason) in cases {
            assert_eq!(f.check(&f.signed(change)), Err(reason), "{case}");
        }
    }

    #[test]
    fn a_token_just_expired_within_the_leeway_is_still_accepted() {
        let f = fixture();
        let now = unix_now();
        let token = f.signed(|c| c["exp"] = json!(now - 10));
        assert!(f.check(&token).is_ok());
    }

    #[test]
    fn unknown_roles_are_ignored_next_to_known_ones() {
        let f = fixture();
        let token = f.signed(|c| c["roles"] = json!(["billing-viewer", "operator"]));
        assert_eq!(
            f.check(&token),
            Ok(Principal::new("ops-1", [Role::Operator]))
        );
    }

    #[test]
    fn an_audience_list_naming_ours_is_accepted() {
        let f = fixture();
        let token = f.signed(|c| c["aud"] = json!(["billing", DEV_AUDIENCE]));
        assert!(f.check(&token).is_ok());
    }

    #[test]
    fn a_token_signed_by_another_key_under_our_kid_has_a_bad_signature() {
        let f = fixture();
        let stranger = DevIssuer::ephemeral().unwrap();
        let claims = claims("ops-1", &[Role::Operator], HOUR);
        let token = stranger.sign_with_kid(f.issuer.kid(), &claims);
        assert_eq!(f.check(&token), Err(InvalidToken::BadSignature));
    }

    #[test]
    fn a_token_of_an_unknown_kid_is_refused_as_such() {
        let f = fixture();
        let claims = claims("ops-1", &[Role::Operator], HOUR);
        let token = f.issuer.sign_with_kid("rotated-away", &claims);
        assert_eq!(f.check(&token), Err(InvalidToken::UnknownKeyId));
    }

    #[test]
    fn alg_none_is_not_allowed() {
        let f = fixture();
        let header = json!({"alg": "none", "kid": f.issuer.kid()});
        let claims = claims("ops-1", &[Role::Operator], HOUR);
        for signature in ["", "c2ln"] {
            let token = format!("{}.{}.{signature}", b64(&header), b64(&claims));
            assert_eq!(f.check(&token), Err(InvalidToken::AlgorithmNotAllowed));
        }
    }

    #[test]
    fn hs256_with_the_public_key_as_secret_is_not_allowed() {
        let f = fixture();
        let public_key = f.issuer.jwks().to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(f.issuer.kid().to_owned());
        let claims = claims("ops-1", &[Role::Operator], HOUR);
        let secret = EncodingKey::from_secret(public_key.as_bytes());
        let token = jsonwebtoken::encode(&header, &claims, &secret).unwrap();
        assert_eq!(f.check(&token), Err(InvalidToken::AlgorithmNotAllowed));
    }

    #[test]
    fn an_allowed_alg_that_is_not_the_keys_is_not_allowed() {
        let f = fixture();
        let token = f.issuer.token("ops-1", &[Role::Operator], HOUR);
        let (_, rest) = token.split_once('.').unwrap();
        let header = json!({"alg": "RS256", "kid": f.issuer.kid()});
        let token = format!("{}.{rest}", b64(&header));
        assert_eq!(f.check(&token), Err(InvalidToken::AlgorithmNotAllowed));
    }

    #[test]
    fn garbage_is_malformed() {
        let f = fixture();
        let valid = f.issuer.token("ops-1", &[Role::Operator], HOUR);
        let (header, _) = valid.split_once('.').unwrap();
        let too_long = format!("{valid}{}", "A".repeat(MAX_TOKEN_LEN));
        let cases = [
            "garbage".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            "!!!.e30.sig".to_owned(),
            format!("{header}.e30"),
            too_long,
        ];
        for token in cases {
            assert_eq!(f.check(&token), Err(InvalidToken::Malformed), "{token:.40}");
        }
    }
}

/// RS256 and EdDSA, which the development issuer does not use, signed here by hand.
mod other_algorithms {
    use super::super::*;
    use crate::dev::claims;
    use crate::{DEV_AUDIENCE, DEV_ISSUER};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256};
    use serde_json::json;
    use std::time::Duration;

    /// A token of `alg` and `kid` whose signature `sign` makes.
    fn token(alg: &str, kid: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": kid}).to_string());
        let claims = claims("c-1", &[Role::Customer], Duration::from_secs(60));
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = URL_SAFE_NO_PAD.encode(sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    fn check(jwk: Value, token: &str) -> Result<Principal, InvalidToken> {
        let jwks = json!({ "keys": [jwk] }).to_string();
        let keys = KeySet::parse("test", jwks.as_bytes()).unwrap();
        let policy = Policy::new(DEV_ISSUER, DEV_AUDIENCE, 30);
        verify(token, &keys, &policy).map(|verified| verified.principal)
    }

    #[test]
    fn an_rs256_token_of_a_jwks_rsa_key_is_accepted() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let jwk = json!({
            "kty": "RSA", "kid": "rsa-1",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        });
        let signed = token("RS256", "rsa-1", |input| {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input,
                &mut signature,
            )
            .unwrap();
            signature
        });
        assert_eq!(
            check(jwk, &signed),
            Ok(Principal::new("c-1", [Role::Customer]))
        );
    }

    #[test]
    fn an_eddsa_token_of_a_jwks_ed25519_key_is_accepted() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": x});
        let signed = token("EdDSA", "ed-1", |input| pair.sign(input).as_ref().to_vec());
        assert_eq!(
            check(jwk, &signed),
            Ok(Principal::new("c-1", [Role::Customer]))
        );
    }
}
