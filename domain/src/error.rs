//! The one error type of the domain boundary.

use crate::command::CommandKind;
use crate::status::Status;
use thiserror::Error;

/// Why [`crate::decide`] refused a command. Every variant is the caller's problem, never a
/// fault of the system, so none of them is retried.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// The command's fields break the domain's rules. Handling: report every violation to
    /// the client (HTTP 422); nothing is appended.
    #[error("the command has {} invalid field(s)", .0.len())]
    Invalid(Vec<Violation>),
    /// A change was asked of an order that was never placed. Handling: HTTP 404.
    #[error("order does not exist")]
    NotFound,
    /// `Place` for an order id that is already taken. Handling: the service compares the
    /// content and answers 200 for an identical retry, 409 otherwise.
    #[error("order already exists")]
    AlreadyPlaced,
    /// The lifecycle does not allow this command in the current status. Handling: HTTP 409
    /// naming both.
    #[error("cannot {} an order that is {from}", .command.verb())]
    TransitionNotAllowed { from: Status, command: CommandKind },
}

/// One field that breaks a rule. `field` is a path in the request's terms, such as
/// `items[2].quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl Violation {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            message: message.into(),
        }
    }
}
