//! The OpenAPI document, generated from the handlers and types (utoipa).

use app::domain::TeamSlug;
use app::domain::change::{
    ChangeKey, ChangeType, DETAILS, DetailKind, NOTE_MAX, TEXT_MAX, TITLE_MAX, link_pattern,
};
use app::domain::failure_mode::{Design, Selector, TEXTS};
use app::domain::gate::Outcome;
use app::domain::text::TextRule;
use app::domain::time::{Timestamp, milestone_date_pattern};
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

/// A string type of the API whose schema is built from the rule the server checks it by
/// (the domain's limits and characters), so the schema says exactly what the server takes.
macro_rules! checked_string {
    ($($(#[doc = $doc:literal])+ $name:ident => $schema:expr;)+) => {$(
        $(#[doc = $doc])+
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let description = [$($doc),+].map(str::trim).join(" ");
                let schema: ObjectBuilder = $schema;
                schema.schema_type(Type::String).description(Some(description)).into()
            }
        }

        impl ToSchema for $name {}
    )+};
}

/// A string matching `pattern`.
fn matching(pattern: String) -> ObjectBuilder {
    ObjectBuilder::new().pattern(Some(pattern))
}

checked_string! {
    /// A change key such as `PAY-12`: the team's slug (2 to 12 letters or digits, starting
    /// with a letter, any case), a hyphen and the change's number.
    ChangeKeyDoc => matching(ChangeKey::pattern());
    /// One line of 1 to 200 characters (surrounding spaces are dropped): a title.
    TitleDoc => matching(TextRule::line(TITLE_MAX).pattern());
    /// Free text of up to 20,000 characters, lines and tabs allowed.
    TextDoc => matching(TextRule::lines(TEXT_MAX).pattern());
    /// A note of up to 2,000 characters, lines and tabs allowed.
    NoteDoc => matching(TextRule::lines(NOTE_MAX).pattern());
    /// One line of 1 to 500 characters: what a design is called, or a short note.
    DesignTitleDoc => matching(TextRule::line(Design::TITLE_MAX).pattern());
    /// An http:// or https:// address of up to 2,000 characters without spaces, or `""`
    /// for none.
    LinkDoc => matching(link_pattern());
    /// A team's slug: 2 to 12 letters or digits, starting with a letter, any case.
    SlugDoc => matching(TeamSlug::pattern());
    /// A test selector: an exact test id, or a glob where `*` matches any run of characters
    /// and `?` one; no spaces, and at least 3 characters besides wildcards.
    SelectorDoc => matching(Selector::pattern()).max_length(Some(Selector::MAX));
    /// `YYYY-MM-DD` (UTC), today or up to a year back; `""` for today.
    MilestoneDateDoc => matching(milestone_date_pattern(Timestamp::now()));
    /// A test's id as the report names it: 1 to 1,000 characters once trimmed.
    TestIdDoc => matching(app::domain::run::TEST_ID.pattern());
    /// A commit's SHA: one line of up to 100 characters.
    CommitDoc => matching(super::evidence::COMMIT.pattern());
    /// A branch, or the CI system's id for the run: one line of up to 200 characters.
    RunLineDoc => matching(super::evidence::RUN_LINE.pattern());
    /// 1 to 200 printable ASCII characters (spaces and tabs around are dropped).
    IdempotencyKeyDoc => matching(super::evidence::idempotency_key_pattern());
    /// Binds a result to a failure mode: `PAY-12/FM-3` (one that names none is ignored).
    BindingDoc => ObjectBuilder::new().max_length(Some(app::domain::run::BINDING_MAX));
    /// Where a webhook posts: `https://` (or `http://` where the server allows it), up to
    /// 2,000 characters; its host must resolve to public addresses unless the server allows
    /// private ones.
    WebhookUrlDoc => matching(app::domain::webhook::url_pattern()).max_length(Some(app::domain::webhook::URL_MAX));
    /// A webhook's id, as its listing gives it.
    WebhookIdDoc => matching("^[0-9]{1,18}$".to_owned());
    /// The incident tool's id for an incident: one line of up to 200 characters, or `""`
    /// for none.
    ExternalIdDoc => matching(app::domain::incident::EXTERNAL_ID.pattern());
}

/// An incident's severity: the domain's list.
pub struct SeverityDoc;

impl PartialSchema for SeverityDoc {
    fn schema() -> RefOr<Schema> {
        one_of(app::domain::incident::Severity::ALL.map(app::domain::incident::Severity::as_str))
    }
}

impl ToSchema for SeverityDoc {}

/// A change's verdict on an incident: the domain's list.
pub struct VerdictDoc;

impl PartialSchema for VerdictDoc {
    fn schema() -> RefOr<Schema> {
        one_of(app::domain::incident::Verdict::ALL.map(app::domain::incident::Verdict::as_str))
    }
}

impl ToSchema for VerdictDoc {}

/// An event type a webhook may receive, or `*` for all: the domain's list.
pub struct EventNameDoc;

impl PartialSchema for EventNameDoc {
    fn schema() -> RefOr<Schema> {
        one_of(std::iter::once("*").chain(app::domain::webhook::EventType::ALL.map(|t| t.as_str())))
    }
}

impl ToSchema for EventNameDoc {}

/// A webhook's format: the domain's list.
pub struct FormatDoc;

impl PartialSchema for FormatDoc {
    fn schema() -> RefOr<Schema> {
        one_of(app::domain::webhook::Format::ALL.map(app::domain::webhook::Format::as_str))
    }
}

impl ToSchema for FormatDoc {}

/// A state a webhook's leads may set: `active` (resume) or `paused`.
pub struct SettableStateDoc;

impl PartialSchema for SettableStateDoc {
    fn schema() -> RefOr<Schema> {
        one_of(["active", "paused"])
    }
}

impl ToSchema for SettableStateDoc {}

/// The schema of a string that is one of `values`.
fn one_of(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into()
}

/// `open`: the only requirement the gate takes.
pub struct RequireDoc;

impl PartialSchema for RequireDoc {
    fn schema() -> RefOr<Schema> {
        one_of(["open"])
    }
}

impl ToSchema for RequireDoc {}

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
            (path.contains('{'), "404", "No such change or webhook in the token's team"),
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
        ObjectBuilder::new().schema_type(types.iter().cloned().collect::<SchemaType>()).into()
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

/// A failure mode's texts (the domain's `TEXTS`), added by name to the schemas that carry
/// them, each with the pattern of the rule it is checked by. The new failure mode's body
/// takes no other fields.
struct FailureModeTexts;

impl Modify for FailureModeTexts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        for (name, body) in [("FailureModeDoc", false), ("NewFailureModeDoc", true)] {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else { continue };
            for text in TEXTS {
                let schema = if body {
                    let string = matching(text.rule().pattern()).schema_type(Type::String);
                    string.description(Some(text.label)).into()
                } else {
                    ObjectBuilder::new().schema_type(Type::String).into()
                };
                object.properties.insert(text.name.to_owned(), schema);
                if !body {
                    object.required.push(text.name.to_owned());
                }
            }
            if body {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// What the document holds besides the operations, which the router brings
/// ([`super::routes`]).
#[derive(OpenApi)]
#[openapi(
    info(title = "Premortem CI API", description = "Post test results as evidence; ask whether a change's gate is open."),
    // Parameters' schemas are listed here (utoipa collects only those of bodies).
    components(schemas(ErrorsDoc, ErrorDetailDoc, TextDoc, LinkDoc, ChangeKeyDoc, CommitDoc, RunLineDoc, IdempotencyKeyDoc, WebhookIdDoc))
)]
struct ApiDoc;

/// The whole document: every operation the router serves under `/api/v1`, then what the
/// modifiers add to them (refusals, the details' and texts' schemas, the bearer scheme).
fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi().nest("/api/v1", super::routes().into_openapi());
    let modifiers: [&dyn Modify; 4] = [&Bearer, &Refusals, &ChangeDetails, &FailureModeTexts];
    for modifier in modifiers {
        modifier.modify(&mut doc);
    }
    doc
}

/// `GET /api/v1/openapi.json`. Built once a day (the milestone dates it lists change at
/// midnight, UTC), since its patterns take a scan of every character to write.
pub async fn document() -> axum::response::Response {
    use axum::response::IntoResponse;
    static BUILT: std::sync::Mutex<Option<(i64, axum::body::Bytes)>> = std::sync::Mutex::new(None);
    let today = Timestamp::now().day();
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let json = match &*built {
        Some((day, json)) if *day == today => json.clone(),
        _ => {
            let json = axum::body::Bytes::from(serde_json::to_vec(&openapi()).unwrap_or_default());
            *built = Some((today, json.clone()));
            json
        }
    };
    ([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Strings the server takes as they come, each with why: no rule to state.
    const FREE: [(&str, &str); 1] = [
        // A long message is truncated with a warning, never refused.
        ("JsonResult.message", "truncated, not refused"),
    ];

    /// Walks `schema` (reached at `at`), resolving `$ref`s, and records at `unruled` every
    /// string it can hold that has no rule (`pattern`, `enum`, `const`, `format` or
    /// `maxLength`): a value the server checks (or should) with nothing in the document to say
    /// so. `named` is the component last passed through, for the exceptions in [`FREE`].
    fn walk(
        doc: &Value,
        schema: &Value,
        at: &str,
        named: &str,
        seen: &mut Vec<String>,
        unruled: &mut Vec<String>,
    ) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            if seen.iter().any(|s| s == name) {
                return;
            }
            let Some(target) = doc["components"]["schemas"].get(name) else {
                return unruled.push(format!("{at}: {reference} is not in the document"));
            };
            seen.push(name.to_owned());
            walk(doc, target, at, name, seen, unruled);
            seen.pop();
            return;
        }
        let ruled =
            ["pattern", "enum", "const", "format", "maxLength"].iter().any(|r| schema.get(r).is_some());
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let composed = ["oneOf", "anyOf", "allOf"].iter().any(|k| schema.get(k).is_some());
        let free = FREE
            .iter()
            .any(|(field, _)| *field == format!("{named}.{}", at.rsplit('.').next().unwrap_or_default()));
        if (types.contains(&"string") || (types.is_empty() && !composed)) && !ruled && !free {
            unruled.push(format!("{at} ({named})"));
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for item in schema[key].as_array().into_iter().flatten() {
                walk(doc, item, at, named, seen, unruled);
            }
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            walk(doc, property, &format!("{at}.{name}"), named, seen, unruled);
        }
        if schema["items"].is_object() {
            walk(doc, &schema["items"], &format!("{at}[]"), named, seen, unruled);
        }
        if schema["additionalProperties"].is_object() {
            walk(doc, &schema["additionalProperties"], &format!("{at}.*"), named, seen, unruled);
        }
    }

    /// Every field and parameter a request can carry has a rule in its schema: a server check
    /// with no rule beside it is a request the document allows and the server refuses.
    #[test]
    fn every_string_a_request_carries_has_a_rule() {
        let doc = serde_json::to_value(openapi()).expect("json");
        let mut unruled = Vec::new();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("operations") {
                operations += 1;
                let label = format!("{} {path}", method.to_uppercase());
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let at =
                        format!("{label} {} {}", parameter["in"].as_str().unwrap_or("?"), parameter["name"]);
                    walk(&doc, &parameter["schema"], &at, "", &mut Vec::new(), &mut unruled);
                }
                for (media, content) in operation["requestBody"]["content"].as_object().into_iter().flatten()
                {
                    let at = format!("{label} body ({media})");
                    walk(&doc, &content["schema"], &at, "", &mut Vec::new(), &mut unruled);
                }
            }
        }
        assert!(operations >= 9, "{operations} operations");
        assert!(unruled.is_empty(), "strings with no rule in their schema:\n{}", unruled.join("\n"));
    }

    /// The walk sees a string with no rule wherever it sits: a parameter, a property, an
    /// item, behind a `$ref` or a `oneOf`.
    #[test]
    fn the_walk_finds_a_string_without_a_rule() {
        let doc = serde_json::json!({"components": {"schemas": {
            "Body": {"type": "object", "properties": {
                "ok": {"type": "string", "maxLength": 3},
                "list": {"type": "array", "items": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Loose"}]}},
            }},
            "Loose": {"type": ["string", "null"]},
        }}});
        let mut unruled = Vec::new();
        walk(
            &doc,
            &serde_json::json!({"$ref": "#/components/schemas/Body"}),
            "body",
            "",
            &mut Vec::new(),
            &mut unruled,
        );
        assert_eq!(unruled, ["body.list[] (Loose)"]);
    }
}
