//! The OpenAPI document, generated from the handlers and types (utoipa).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The reply to an upload (documentation mirror of `app::ssr::ingest::Receipt`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the JSON the API sends; never constructed")]
pub struct ReceiptDoc {
    run_id: i64,
    /// Counts by outcome: passed, failed, skipped, error.
    counts: std::collections::HashMap<String, usize>,
    /// Failure modes this run gave evidence for: change, failure_mode, coverage.
    matched: Vec<std::collections::HashMap<String, String>>,
    /// Signed-off changes this run marked regressed.
    regressed: Vec<String>,
    warnings: Vec<String>,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Premortem CI API", description = "Post test results as evidence; ask whether a change's gate is open."),
    paths(
        super::evidence::upload,
        super::evidence::queue_status,
        super::changes::list,
        super::changes::create,
        super::changes::get_one,
        super::changes::edit,
        super::changes::gate,
        super::changes::happy_path,
        super::changes::add_failure_mode,
    ),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
