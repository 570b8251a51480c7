//! The language: values, types, functions, expressions and their evaluation.

pub mod display;
pub mod eval;
pub mod expr;
pub mod functions;
pub mod types;
pub mod value;

pub use types::Type;
pub use value::{Number, Value};
