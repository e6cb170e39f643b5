//! Health, readiness, metrics, request ids and what clients see when things fail.

use crate::both_backends;
use crate::common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::Value;

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.client();
    let health = client.get(app.url("/healthz")).send().await.expect("request");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"), "every reply carries a request id");
    assert_eq!(client.get(app.url("/readyz")).send().await.expect("request").status(), StatusCode::OK);
    let metrics = client.get(app.url("/metrics")).send().await.expect("request").text().await.expect("text");
    assert!(metrics.contains("http_requests_total"), "{metrics}");
}

async fn a_lost_database_is_reported_without_internals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", "alice-password-1", false).await;
    let client = app.client();
    app.login(&client, "alice", "alice-password-1").await;

    app.db.close().await;
    let ready = client.get(app.url("/readyz")).send().await.expect("request");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = app.call(&client, "teams", &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.text().await.expect("text");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json"), Value::from("Unavailable"));
    for leak in ["sqlx", "SELECT", "pool", "/tmp", "panicked"] {
        assert!(!body.contains(leak), "{leak} leaked: {body}");
    }
    assert_eq!(client.get(app.url("/healthz")).send().await.expect("request").status(), StatusCode::OK);
}

async fn unknown_pages_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client().get(app.url("/no/such/page")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

both_backends!(
    health_readiness_and_metrics_answer,
    a_lost_database_is_reported_without_internals,
    unknown_pages_are_404
);
