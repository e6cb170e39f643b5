//! Identifier newtypes shared by the browser and the server.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Database id of a user account.
    UserId
);
id_type!(
    /// Database id of a team.
    TeamId
);
id_type!(
    /// Database id of an API token.
    TokenId
);
id_type!(
    /// Database id of a team's failure-mode template.
    TemplateId
);
id_type!(
    /// Database id of a change (its key, `PAY-12`, is what people see).
    ChangeId
);
id_type!(
    /// Database id of a failure mode (people see its number within the change).
    FailureModeId
);
id_type!(
    /// Database id of a CI run: one upload of test results.
    RunId
);
id_type!(
    /// Database id of a webhook subscription.
    WebhookId
);
id_type!(
    /// Database id of one delivery of one event to one webhook (its `webhook-id` is
    /// `msg_` and this number, the same on every try).
    DeliveryId
);
id_type!(
    /// Database id of an audit entry; ids grow in the order entries were written.
    AuditEntryId
);
id_type!(
    /// Database id of an incident (its tool's id, if any, is `external_id`).
    IncidentId
);
