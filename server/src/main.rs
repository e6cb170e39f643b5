//! The `premortem` binary.

/// jemalloc, with a background thread that hands freed memory back to the OS about a second
/// after it is freed (`.cargo/config.toml` sets that), even while the server sits idle.
/// After a burst (eight 16 MiB uploads parse to hundreds of MiB) glibc's allocator kept most
/// of it, and mimalloc kept what it would only purge on a thread's next allocation.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    server::cli::run()
}
