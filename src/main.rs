//! The `zonesign` binary: a thin shell over the library (see `zonesign::cli`).

fn main() {
    std::process::exit(zonesign::cli::run());
}
