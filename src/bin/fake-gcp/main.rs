//! `fake-gcp`: an in-memory fake of the Google Cloud APIs yagura calls, for
//! tests, examples and benchmarks.

fn main() {}
