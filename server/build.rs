//! Embeds the browser bundle and static files (`$PREMORTEM_SITE_DIR`, by default `site/` in the
//! target directory, which `make site` or `make bundle` fills) so that release builds of
//! `premortem` need nothing beside them; debug builds read the same files at request time.
//! Without a bundle the server still builds with the static files of `public/` (its pages then
//! work only without JavaScript), but cargo reruns this script on every build until a bundle
//! exists: build the bundle first.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=PREMORTEM_SITE_DIR");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let site = std::env::var_os("PREMORTEM_SITE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| manifest_dir.join("../target"), PathBuf::from)
            .join("site")
    });
    println!("cargo::rerun-if-changed={}", site.display());
    let site = if site.join("pkg").is_dir() {
        site
    } else {
        println!(
            "cargo::warning=no browser bundle in {}: pages will not hydrate (run `make site`)",
            site.display()
        );
        manifest_dir.join("../public")
    };
    memory_serve::load_directory(site);
}
