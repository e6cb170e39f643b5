//! The import page: failure modes pasted as CSV or a Markdown table. The form posts to the
//! server's `POST /changes/{key}/import` (a plain form, so it works without JavaScript),
//! which checks every row and renders this page again with the preview in its context.

use crate::domain::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of a preview: its line in the pasted text, and the failure mode or its problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub line: usize,
    pub title: String,
    pub priority: String,
    pub problem: Option<String>,
}

/// What was posted and what the server made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    pub text: String,
    /// A problem with the whole text (no header, an unknown column, too many rows).
    pub problem: Option<String>,
    pub rows: Vec<PreviewRow>,
}

impl ImportPreview {
    /// How many rows have a problem.
    pub fn problems(&self) -> usize {
        self.rows.iter().filter(|r| r.problem.is_some()).count()
    }

    /// Whether the rows may be imported as they are.
    pub fn importable(&self) -> bool {
        self.problem.is_none() && !self.rows.is_empty() && self.problems() == 0
    }
}

/// The import page of a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportView {
    pub key: String,
    pub title: String,
    /// The preview of a posted text; none on a plain visit.
    pub preview: Option<ImportPreview>,
}

/// The import page, for members of the change's team. On the server, the preview is the one
/// the form post put in the render's context.
#[server(endpoint = "import_page")]
pub async fn import_page(key: String) -> Result<ImportView, AppError> {
    use crate::domain::Role;
    let (_, _, review) = super::changes::server::authorized(&key, Role::Member).await?;
    Ok(ImportView {
        key: review.change.key.to_string(),
        title: review.change.details.title.clone(),
        preview: use_context::<ImportPreview>(),
    })
}
