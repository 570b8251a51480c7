fn main() {
    // One TLS crypto backend for the whole process: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::process::exit(yagura::cli::run());
}
