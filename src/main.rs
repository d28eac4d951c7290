//! The `zonesign` binary: a thin shell over the library (see `zonesign::cli`).

/// mimalloc instead of glibc's allocator: a TLD-sized run allocates and frees millions
/// of small RDATA and name buffers, and glibc spent about a tenth of a 1M-delegation
/// cron cycle in malloc/free and in zeroing pages it had given back to the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // This executable also serves the signing worker processes (`hsm worker`).
    zonesign::hsm::worker::enable();
    std::process::exit(zonesign::cli::run());
}
