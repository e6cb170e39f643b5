//! The unit of work: one write transaction per mutation ([`Write`]), which records what the
//! mutation did as events and settles the gates they may have moved before it commits.

use super::audit::{self, Actor};
use super::db::{Backend, Db};
use super::settle;
use super::store::webhooks;
use crate::domain::event::{Event, GateScope};
use sqlx::{Any, Transaction};

/// A write transaction. What a mutation does through it is recorded with [`Write::record`],
/// which appends the event's audit entry to the same transaction and queues its webhook
/// deliveries (`store::webhooks::enqueue`): all commit, or none.
/// Before it commits, it settles the gates its events may have moved and records those
/// moves too ([`settle::settle`]), so no mutation can forget them.
pub struct Write {
    tx: Transaction<'static, Any>,
    backend: Backend,
    /// The gates to settle at commit, with the actor of the event that touched each.
    gates: Vec<(GateScope, Actor)>,
}

impl Write {
    /// Records `event`, done by `actor`, in this transaction.
    pub async fn record(&mut self, actor: &Actor, event: Event) -> Result<(), sqlx::Error> {
        if let Some(scope) = event.gate_scope() {
            self.settle(scope, actor);
        }
        if let Some(notice) = event.notice() {
            webhooks::enqueue(&mut self.tx, &notice).await?;
        }
        audit::append(&mut self.tx, self.backend, actor, &event).await
    }

    /// Settles `scope` at commit, though no event named it: for writes that change the
    /// facts coverage is derived from without moving anyone's coverage now (fresher or
    /// older evidence moves only when it goes stale).
    pub fn settle(&mut self, scope: GateScope, actor: &Actor) {
        if !self.gates.iter().any(|(s, _)| *s == scope) {
            self.gates.push((scope, actor.clone()));
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Settles the gates this transaction's events named, records each move settling
    /// decided (by the actor of the event that named the gate), then commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        while !self.gates.is_empty() {
            for (scope, actor) in std::mem::take(&mut self.gates) {
                for event in settle::settle(&mut self.tx, self.backend, scope).await? {
                    self.record(&actor, event).await?;
                }
            }
        }
        self.tx.commit().await
    }
}

impl std::ops::Deref for Write {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Write {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Db {
    /// Starts a write transaction that holds the write lock from its first statement.
    pub async fn begin_write(&self) -> Result<Write, sqlx::Error> {
        let tx = match self.backend() {
            Backend::Sqlite => self.write_pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write_pool().begin().await?,
        };
        Ok(Write { tx, backend: self.backend(), gates: Vec::new() })
    }
}
