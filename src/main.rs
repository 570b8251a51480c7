fn main() {
    std::process::exit(yagura::cli::run());
}
