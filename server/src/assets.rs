//! The browser bundle and static files (see `build.rs`): embedded in release builds, read from
//! the build's site directory in debug builds. Each is also served on a route named by a hash
//! of its content, with `Cache-Control: immutable`; pages link only those, so a browser never
//! mixes files of two releases. Release builds send text brotli- or gzip-compressed as the
//! client accepts, from bytes compressed once at build time. Debug builds (`make run`) send
//! the files as they are: memory-serve would compress the 1.1 MB debug wasm on every request,
//! revalidations included (9 s of CPU with brotli on 2 cores), and the debug loop is served on
//! loopback, where compression saves nothing.

use memory_serve::{CacheControl, Manifest, MemoryServe};
use std::sync::LazyLock;

/// Whether the files are embedded in the binary (release builds), compressed at build time.
const EMBEDDED: bool = !cfg!(debug_assertions);

/// The routes pages link to, computed once (debug builds hash the files on disk at startup).
static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| served().manifest());

fn served() -> MemoryServe {
    memory_serve::load!()
        .index_file(None)
        .enable_hashed_routes(true)
        .enable_brotli(EMBEDDED)
        .enable_gzip(EMBEDDED)
        // Only stale links reach the plain routes (and `/favicon.ico`): let them revalidate.
        .cache_control(CacheControl::NoCache)
}

/// Every asset, on its plain and its hashed route.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    LazyLock::force(&MANIFEST);
    served().into_router()
}

/// The route to link `route` (e.g. `/report.css`) by: its content-hashed one when it exists.
pub fn url(route: &str) -> String {
    MANIFEST.get(route).unwrap_or(route).to_owned()
}

/// Where pages load the browser bundle from.
pub fn bundle() -> app::Bundle {
    app::Bundle {
        script: url("/pkg/premortem.js"),
        wasm: url("/pkg/premortem_bg.wasm"),
        stylesheet: url("/pkg/premortem.css"),
    }
}
