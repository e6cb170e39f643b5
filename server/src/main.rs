//! The `premortem` binary.

/// mimalloc hands memory freed after a burst (eight 16 MiB uploads parse to hundreds of MiB)
/// back to the OS within moments; glibc's allocator kept most of it while idle.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::run()
}
