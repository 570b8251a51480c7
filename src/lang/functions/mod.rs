//! Terraform's standard functions, as Terraform defines them.
//!
//! Invariant: functions are pure. The only I/O is `file` and `templatefile`,
//! which read below the calling module's directory given in `FuncContext`.

use std::path::Path;

use super::value::Value;

/// What a function may know about its caller.
pub struct FuncContext<'a> {
    /// The directory of the module whose expression calls the function (`path.module`).
    pub base_dir: &'a Path,
    /// Renders a template source with variables; supplied by the evaluator for `templatefile`.
    pub render_template: &'a dyn Fn(&str, &Path, Value) -> Result<Value, String>,
}

/// Why a function call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FuncError {
    #[error("there is no function named `{0}`")]
    UnknownFunction(String),
    #[error("{0}")]
    Arity(String),
    /// A bad argument; `arg` is its zero-based position when one argument is to blame.
    #[error("{message}")]
    Invalid { arg: Option<usize>, message: String },
}

/// Calls the named function.
pub fn call(name: &str, args: Vec<Value>, ctx: &FuncContext<'_>) -> Result<Value, FuncError> {
    let _ = (args, ctx);
    Err(FuncError::UnknownFunction(name.to_string()))
}

/// The names of all functions, for "did you mean" suggestions.
pub fn names() -> &'static [&'static str] {
    &[]
}
