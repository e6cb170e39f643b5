//! The browser bundle as pages link it: content-hashed routes, revalidated by ETag. Needs the
//! bundle built first (`make site` or `make bundle`, which `make test` runs). These tests run
//! the debug server of `make run`, which sends files as they are (compressing the debug wasm
//! on every request cost seconds of CPU a page); that release builds send them compressed as
//! the client accepts, with `Cache-Control: immutable`, is checked on the release binary by
//! the browser tests (`end2end/tests/assets.spec.ts`).

use crate::common::{Backend, TestApp};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

/// The bundle URLs in the `<head>` of `html`: (stylesheet, script, wasm).
fn bundle_links(html: &str) -> (String, String, String) {
    let head = html.split("</head>").next().unwrap_or_default();
    let link = |prefix: &str, suffix: &str| {
        head.split('"')
            .find(|value| value.starts_with(prefix) && value.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {prefix}…{suffix} in the head (is the bundle built?): {head}"))
            .to_owned()
    };
    (link("/pkg/premortem.", ".css"), link("/pkg/premortem.", ".js"), link("/pkg/premortem_bg.", ".wasm"))
}

/// A route whose name carries a 16-hex-digit content hash before its extension.
fn is_hashed(route: &str) -> bool {
    let stem = route.rsplit_once('.').map_or(route, |(stem, _)| stem);
    stem.rsplit_once('.')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_link_the_bundle_on_hashed_routes_that_revalidate_without_compressing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.client();
    let html = client.get(app.url("/login")).send().await.expect("login").text().await.expect("html");
    let (css, js, wasm) = bundle_links(&html);
    for (route, content_type) in [(&css, "text/css"), (&js, "text/javascript"), (&wasm, "application/wasm")] {
        assert!(is_hashed(route), "{route} is not content-hashed");
        let plain = client.get(app.url(route)).header(ACCEPT_ENCODING, "identity").send().await.expect("get");
        assert_eq!(plain.status(), StatusCode::OK, "{route}");
        assert!(plain.headers()[CONTENT_TYPE].to_str().expect("type").starts_with(content_type), "{route}");
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        let etag = plain.headers()[ETAG].clone();
        let size = plain.bytes().await.expect("body").len();
        assert!(size > 0);

        // The debug loop compresses nothing, whatever the client accepts.
        for encoding in ["br", "gzip", "br, gzip"] {
            let sent =
                client.get(app.url(route)).header(ACCEPT_ENCODING, encoding).send().await.expect("get");
            assert_eq!(sent.status(), StatusCode::OK);
            assert!(sent.headers().get(CONTENT_ENCODING).is_none(), "{route} {encoding}");
            assert_eq!(sent.bytes().await.expect("body").len(), size, "{route} {encoding}");
        }
        let again = client
            .get(app.url(route))
            .header(IF_NONE_MATCH, etag)
            .header(ACCEPT_ENCODING, "br, gzip")
            .send()
            .await
            .expect("get");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{route}");
    }
    // The script the page runs imports the same hashed files it preloads.
    assert!(html.contains(&format!("import({js:?})")) && html.contains(&format!("module_or_path: {wasm:?}")));

    // Unknown files under the bundle's directory are pages' 404, not a file.
    let missing = client.get(app.url("/pkg/premortem.0123456789abcdef.js")).send().await.expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
