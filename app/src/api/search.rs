//! The search box.

use crate::domain::AppError;
use crate::domain::search::Found;
use leptos::prelude::*;

/// What `q` finds in the teams the user may read. A change's key the user may read jumps
/// to its page (the reply redirects, and says where in `jump`).
#[server(endpoint = "search")]
pub async fn search(q: String) -> Result<Found, AppError> {
    use crate::domain::Role;
    use crate::domain::search::Query;
    use crate::ssr::store::{changes, search};
    use crate::ssr::{auth, state};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let query = Query::parse(&q)?;
    let db = &state()?.db;
    if let Some(key) = &query.key {
        match changes::by_key(db, key).await {
            Ok(change)
                if user
                    .require_role_or_hide(change.team_id, Role::Viewer, || changes::not_found(key))
                    .is_ok() =>
            {
                let path = format!("/changes/{key}");
                leptos_axum::redirect(&path);
                return Ok(Found { jump: Some(path), ..Found::default() });
            }
            Ok(_) | Err(AppError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
    }
    search::find(db, &user, &query).await
}
