//! The OpenAPI document, generated from the handlers and types (utoipa).

use app::domain::change::{ChangeType, DETAILS, DetailKind};
use app::domain::gate::Outcome;
use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

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

/// A change key such as `PAY-12`: the team's slug (2 to 12 letters or digits, starting
/// with a letter, any case), a hyphen and the change's number.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*[A-Za-z][A-Za-z0-9]{1,11}-\+?0*[1-9][0-9]{0,17}\s*$")]
#[allow(dead_code, reason = "describes the JSON the API reads; never constructed")]
pub struct ChangeKeyDoc(String);

/// One line of 1 to 200 characters (surrounding spaces are dropped): a title.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]{0,198}[^\s\x00-\x1f\x7f-\x9f])?\s*$")]
#[allow(dead_code, reason = "describes the JSON the API reads; never constructed")]
pub struct TitleDoc(String);

/// Free text of up to 20,000 characters, lines and tabs allowed.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,20000}$")]
#[allow(dead_code, reason = "describes the JSON the API reads; never constructed")]
pub struct TextDoc(String);

/// An http:// or https:// address without spaces, or `""` for none.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*(?:https?://[!-~]{2,1992})?\s*$")]
#[allow(dead_code, reason = "describes the JSON the API reads; never constructed")]
pub struct LinkDoc(String);

/// A team's slug: 2 to 12 letters or digits, starting with a letter, any case.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^\s*[A-Za-z][A-Za-z0-9]{1,11}\s*$")]
#[allow(dead_code, reason = "describes the JSON the API reads; never constructed")]
pub struct SlugDoc(String);

/// The schema of a string that is one of `values`.
fn one_of(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into()
}

/// A kind of change, as the API writes it: the domain's list, so the two cannot differ.
pub struct ChangeTypeDoc;

impl PartialSchema for ChangeTypeDoc {
    fn schema() -> RefOr<Schema> {
        one_of(ChangeType::ALL.map(ChangeType::as_str))
    }
}

impl ToSchema for ChangeTypeDoc {}

/// A test's outcome, as the JSON upload format names it: the domain's list.
pub struct OutcomeDoc;

impl PartialSchema for OutcomeDoc {
    fn schema() -> RefOr<Schema> {
        one_of(Outcome::ALL.map(Outcome::as_str))
    }
}

impl ToSchema for OutcomeDoc {}

/// The body of every refusal: `{"errors": [{"detail": "…"}]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the JSON the API sends; never constructed")]
pub struct ErrorsDoc {
    errors: Vec<ErrorDetailDoc>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the JSON the API sends; never constructed")]
pub struct ErrorDetailDoc {
    /// What was wrong, in words for the person reading CI's log.
    detail: String,
}

/// The refusals every operation can answer, added to each one that does not describe them
/// itself, each with the error envelope: so the document lists every status a client can
/// get, and no handler has to repeat them.
struct Refusals;

impl Refusals {
    fn add(path: &str, operation: &mut Operation) {
        let has_body = operation.request_body.is_some();
        let has_input = has_body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let refusals = [
            (true, "401", "No token, or one that is unknown, revoked or expired"),
            (true, "403", "The token lacks the scope this needs, or its owner may no longer act"),
            (path.contains('{'), "404", "No such change in the token's team"),
            (has_body, "400", "The body is not well-formed (JSON with its position)"),
            (has_body, "413", "The body is larger than the server accepts"),
            (has_body, "415", "The body's Content-Type is not one this operation reads"),
            (has_input, "422", "A field or parameter is invalid; the detail names it"),
            (true, "429", "The token's request budget is spent; Retry-After says when to return"),
            (true, "503", "The database is unavailable or the line is full; Retry-After says when to return"),
        ];
        let responses = &mut operation.responses.responses;
        for (applies, status, description) in refusals {
            if applies && !responses.contains_key(status) {
                responses.insert(
                    status.to_owned(),
                    ResponseBuilder::new().description(description).build().into(),
                );
            }
        }
        // Every refusal, listed here or by its handler, carries the envelope; 429 and 503
        // say when to return.
        for (status, response) in responses {
            let RefOr::T(response) = response else { continue };
            if (status.starts_with('4') || status.starts_with('5')) && response.content.is_empty() {
                let envelope = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorsDoc"))).build();
                response.content.insert("application/json".to_owned(), envelope);
            }
            if status == "429" || status == "503" {
                let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
                response.headers.entry("Retry-After".to_owned()).or_insert_with(|| Header::new(seconds));
            }
        }
    }
}

impl Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                Self::add(path, operation);
            }
        }
    }
}

/// A change's details (the domain's `DETAILS`), added by name to the schemas that carry
/// them: so the document lists exactly the details the handlers read and write. Bodies
/// take no other fields.
struct ChangeDetails;

impl ChangeDetails {
    /// A detail's schema in a body the API reads: a text, or a link that may be `null`. In
    /// an edit a text may also be `null` (left as it is).
    fn read(kind: DetailKind, edit: bool) -> RefOr<Schema> {
        let (schema, nullable) = match kind {
            DetailKind::Text => ("TextDoc", edit),
            DetailKind::Link => ("LinkDoc", true),
        };
        if !nullable {
            return Ref::from_schema_name(schema).into();
        }
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(Ref::from_schema_name(schema))
            .into()
    }

    /// A detail's schema in a reply: a text as written (perhaps empty), a link or `null`.
    fn written(kind: DetailKind) -> RefOr<Schema> {
        let types: &[Type] = match kind {
            DetailKind::Text => &[Type::String],
            DetailKind::Link => &[Type::String, Type::Null],
        };
        ObjectBuilder::new().schema_type(SchemaType::from_iter(types.iter().cloned())).into()
    }
}

impl Modify for ChangeDetails {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        for (name, body) in
            [("ChangeDoc", None), ("NewChangeDoc", Some(false)), ("ChangePatchDoc", Some(true))]
        {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else { continue };
            for detail in DETAILS {
                let schema = match body {
                    Some(edit) => Self::read(detail.kind, edit),
                    None => Self::written(detail.kind),
                };
                object.properties.insert(detail.name.to_owned(), schema);
                if body.is_none() {
                    object.required.push(detail.name.to_owned());
                }
            }
            if body.is_some() {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
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
    components(schemas(ErrorsDoc, ErrorDetailDoc, ChangeKeyDoc, TitleDoc, TextDoc, LinkDoc, SlugDoc)),
    modifiers(&Bearer, &Refusals, &ChangeDetails)
)]
struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
