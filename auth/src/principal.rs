//! Who is calling: the [`Principal`] a verified token makes, and its [`Role`]s.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use orderflow_platform::Problem;

use crate::Rejection;

/// What a token's `roles` claim grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// A customer: the token's `sub` is the customer id.
    Customer,
    /// Warehouse or carrier staff.
    Operator,
    /// Everything staff may do, and administration.
    Admin,
    /// The fulfilment process manager: the only caller that confirms or rejects a pending
    /// order (a person doing it would skip the stock and the payment).
    Fulfilment,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Customer,
        Role::Operator,
        Role::Admin,
        Role::Fulfilment,
    ];

    /// The name in the `roles` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Fulfilment => "fulfilment",
        }
    }

    /// The role a claim names; `None` for names this service does not know (ignored, so an
    /// issuer may grant roles of other systems in the same token).
    pub fn from_claim(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller of a request: a token's subject and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    /// One bit per [`Role`]: cheap to clone for every request.
    roles: u8,
}

impl Principal {
    /// The caller when authentication is disabled: may do everything.
    pub fn anonymous() -> Principal {
        Principal::new("anonymous", Role::ALL)
    }

    pub fn new(subject: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Principal {
        Principal {
            subject: subject.into(),
            roles: roles.into_iter().fold(0, |bits, role| bits | role.bit()),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles & role.bit() != 0
    }

    /// The roles, for logs and diagnostics.
    pub fn roles(&self) -> impl Iterator<Item = Role> + '_ {
        Role::ALL.into_iter().filter(|role| self.has(*role))
    }

    /// Staff: an operator or an admin.
    pub fn is_operator(&self) -> bool {
        self.has(Role::Operator) || self.has(Role::Admin)
    }

    /// The customer id (the token's `sub`) of a customer.
    pub fn customer_id(&self) -> Option<&str> {
        self.has(Role::Customer).then_some(self.subject.as_str())
    }

    /// Whether the caller may act on `customer_id`'s behalf: staff, or that customer.
    pub fn may_act_for(&self, customer_id: &str) -> bool {
        self.is_operator() || self.customer_id() == Some(customer_id)
    }
}

/// The idempotency key a log keeps for `key` sent by `subject`: 64 hex characters, a
/// SHA-256 of both, so two callers' equal keys never meet and clients' keys are not kept
/// in the clear. The subject's length goes first, so no (subject, key) pair can imitate
/// another. Shared by every service that takes an `Idempotency-Key`.
pub fn scoped_key(subject: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update((subject.len() as u64).to_be_bytes());
    hasher.update(subject.as_bytes());
    hasher.update(key.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The 403 of a valid token that may not do what the request asks.
pub fn forbidden(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
}

/// The caller, as a handler argument: the principal [`crate::authenticate`] put in the
/// request's extensions. A route outside that middleware gets a 401, never a default.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or(Rejection::Missing)
    }
}

/// The rate-limit key of a request: its principal's subject, so one caller holding many
/// tokens still has one budget. `None` outside the auth middleware (nothing to limit by).
pub fn principal_key(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<Principal>()
        .map(|principal| principal.subject.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_acts_only_for_itself() {
        let customer = Principal::new("c-1", [Role::Customer]);
        assert_eq!(customer.customer_id(), Some("c-1"));
        assert!(customer.may_act_for("c-1"));
        assert!(!customer.may_act_for("c-2"));
        assert!(!customer.is_operator());
    }

    #[test]
    fn operators_and_admins_act_for_every_customer() {
        for role in [Role::Operator, Role::Admin] {
            let staff = Principal::new("ops-1", [role]);
            assert!(staff.is_operator());
            assert!(staff.may_act_for("c-9"));
            assert_eq!(staff.customer_id(), None);
        }
    }

    #[test]
    fn the_anonymous_principal_has_every_role() {
        let anonymous = Principal::anonymous();
        assert!(Role::ALL.iter().all(|role| anonymous.has(*role)));
        assert_eq!(anonymous.roles().count(), Role::ALL.len());
    }

    #[test]
    fn roles_are_named_as_in_the_claim_and_unknown_names_are_none() {
        for role in Role::ALL {
            assert_eq!(Role::from_claim(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_claim("superuser"), None);
        assert_eq!(Role::from_claim("Admin"), None);
    }

    #[test]
    fn forbidden_is_a_403_problem() {
        let problem = forbidden("customers see only their own orders");
        assert_eq!(problem.status, 403);
        assert_eq!(problem.type_uri, "/problems/forbidden");
    }
}
