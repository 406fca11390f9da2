//! The handle of a ledger: what its callers see. Commands go to the writer task
//! (`writer`) and come back answered; states are read without it.

use super::Aggregate;
use orderflow_platform::KafkaSettings;
use orderflow_schemas::ledger::LedgerCodec;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Why a command got no event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError<E> {
    /// The aggregate refused it. Handling: the caller's (a 409 or 422, or the saga's
    /// next step); nothing was appended.
    #[error(transparent)]
    Refused(E),
    /// The ledger could not append and read back in time: replaying after a start, the
    /// broker or the registry away, no read-back within the timeout. Handling: retry; the
    /// event may have been appended all the same, which the caller's next decision sees.
    #[error("the {0} log is unavailable: {1}")]
    Unavailable(&'static str, String),
    /// The idempotency key was used for another request on this aggregate. Handling: 409;
    /// nothing was appended.
    #[error("the idempotency key was used for another request")]
    KeyReused,
}

/// What a command came to: the state after its event, and whether it was a retry under
/// an idempotency key already in the log (nothing appended, the state as it is now).
#[derive(Debug, Clone)]
pub struct Answered<A> {
    pub state: A,
    pub replayed: bool,
}

pub(super) type Reply<A> =
    oneshot::Sender<Result<Answered<A>, LedgerError<<A as Aggregate>::Error>>>;

/// One command on its way to the writer, with where its answer goes.
pub(super) struct Request<A: Aggregate> {
    pub(super) key: String,
    pub(super) command: A::Command,
    pub(super) correlation_id: Option<String>,
    /// The caller-scoped idempotency key, kept in the event.
    pub(super) idempotency_key: Option<String>,
    pub(super) reply: Reply<A>,
    /// How often another writer's event took the version this one was decided for.
    pub(super) conflicts: u8,
}

/// The handle of a ledger: submit commands, read states.
pub struct Ledger<A: Aggregate> {
    pub(super) name: &'static str,
    pub(super) requests: mpsc::Sender<Request<A>>,
    pub(super) states: Arc<RwLock<HashMap<String, A>>>,
    pub(super) ready: Arc<AtomicBool>,
    /// The backstop of `submit`: the writer answers at its timeout, unless it is waiting
    /// at a record for the registry.
    pub(super) answer_within: Duration,
}

impl<A: Aggregate> Clone for Ledger<A> {
    fn clone(&self) -> Self {
        Ledger {
            name: self.name,
            requests: self.requests.clone(),
            states: self.states.clone(),
            ready: self.ready.clone(),
            answer_within: self.answer_within,
        }
    }
}

impl<A: Aggregate> Ledger<A> {
    /// Decides `command` for `key`, appends its event, and answers the state after it,
    /// once the log has it.
    pub async fn submit(
        &self,
        key: &str,
        command: A::Command,
        correlation_id: Option<String>,
    ) -> Result<A, LedgerError<A::Error>> {
        let answered = self.send(key, command, correlation_id, None).await?;
        Ok(answered.state)
    }

    /// [`Ledger::submit`] under a caller-scoped idempotency key
    /// (`orderflow_auth::scoped_key`): a retry with a key the log already holds for `key`
    /// appends nothing and is answered as replayed.
    pub async fn submit_once(
        &self,
        key: &str,
        command: A::Command,
        idempotency_key: Option<String>,
    ) -> Result<Answered<A>, LedgerError<A::Error>> {
        self.send(key, command, None, idempotency_key).await
    }

    async fn send(
        &self,
        key: &str,
        command: A::Command,
        correlation_id: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Answered<A>, LedgerError<A::Error>> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            key: key.to_owned(),
            command,
            correlation_id,
            idempotency_key,
            reply,
            conflicts: 0,
        };
        let gone = || LedgerError::Unavailable(self.name, "the writer stopped".into());
        let late = || LedgerError::Unavailable(self.name, "the writer did not answer".into());
        let sent = tokio::time::timeout(self.answer_within, self.requests.send(request));
        sent.await.map_err(|_| late())?.map_err(|_| gone())?;
        match tokio::time::timeout(self.answer_within, answer).await {
            Ok(answered) => answered.map_err(|_| gone())?,
            Err(_) => Err(late()),
        }
    }

    /// The state of `key` as folded so far.
    pub fn state(&self, key: &str) -> A {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        states.get(key).cloned().unwrap_or_else(|| A::new(key))
    }

    /// `read` of the state of `key` (`None`: nothing happened to it), without a copy.
    pub fn with<R>(&self, key: &str, read: impl FnOnce(Option<&A>) -> R) -> R {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        read(states.get(key))
    }

    /// Whether the log was read to its end once since the start.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Where a ledger's writer reads and writes.
pub struct LedgerConfig<'a, A: Aggregate> {
    pub name: &'static str,
    pub kafka: &'a KafkaSettings,
    pub topic: &'a str,
    pub codec: Arc<LedgerCodec<A::Event>>,
    /// How long a command may wait for its read-back.
    pub timeout: Duration,
    /// Told every accepted state, for the read model.
    pub on_accepted: Option<OnAccepted<A>>,
    /// Where a wait for the registry is reported.
    pub health: Arc<crate::health::Health>,
}

/// What a ledger calls with each state the fold accepted.
pub type OnAccepted<A> = Box<dyn Fn(&A) + Send + Sync>;
