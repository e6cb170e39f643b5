//! The leaders' portfolio across the teams the user can see.

use crate::domain::AppError;
use crate::domain::portfolio::Portfolio;
use leptos::prelude::*;

/// The portfolio for a view given as its query string (see `Filter::to_query`).
#[server(endpoint = "portfolio")]
pub async fn load_portfolio(view: String) -> Result<Portfolio, AppError> {
    use crate::domain::portfolio::Filter;
    use crate::ssr::{auth, state};
    let user = auth::require_user().await?;
    auth::arguments_within_bounds()?;
    let filter = Filter::parse_query(&view)?;
    crate::ssr::portfolio::load(&state()?.db, &user, &filter).await
}
