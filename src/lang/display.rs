//! Prints values as `terraform console` does.

use super::value::Value;

/// Formats a value exactly as `terraform console` prints it.
pub fn console_format(value: &Value) -> String {
    format!("{value:?}")
}
