//! Hash functions (`md5`, `sha1`, `sha256`, `sha512`) over a string's UTF-8
//! bytes, and name-based UUIDs (`uuidv5`).

use md5::Digest as _;

use super::{Fail, FuncContext, string_arg};
use crate::lang::value::Value;

pub(super) fn md5(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(hex(&md5::Md5::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha1(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(hex(&sha1::Sha1::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha256(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(hex(&sha2::Sha256::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha512(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(hex(&sha2::Sha512::digest(
        string_arg(&args, 0)?.as_bytes(),
    ))))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn uuidv5(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let namespace = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let namespace = match namespace.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other)
            .map_err(|_| Fail::call(format!("uuidv5() doesn't support namespace {other}")))?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&namespace, name.as_bytes()).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::call;
    use super::*;

    fn check(name: &str, args: &[&str], expected: Result<&str, &str>) {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        let args = args.iter().map(|a| Value::string(*a)).collect();
        assert_eq!(
            call(name, args, &ctx).map_err(|e| e.to_string()),
            expected.map(Value::string).map_err(str::to_string)
        );
    }

    #[test]
    fn md5_hello() {
        check("md5", &["hello"], Ok("5d41402abc4b2a76b9719d911017c592"));
    }

    #[test]
    fn sha1_hello() {
        check(
            "sha1",
            &["hello"],
            Ok("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        );
    }

    #[test]
    fn sha256_empty() {
        check(
            "sha256",
            &[""],
            Ok("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        );
    }

    #[test]
    fn sha512_hello() {
        check(
            "sha512",
            &["hello"],
            Ok(
                "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
            ),
        );
    }

    #[test]
    fn uuidv5_dns() {
        check(
            "uuidv5",
            &["dns", "example.com"],
            Ok("cfbff0d1-9375-5685-968c-48ce8b15ae17"),
        );
    }

    #[test]
    fn uuidv5_explicit_namespace() {
        check(
            "uuidv5",
            &["6ba7b810-9dad-11d1-80b4-00c04fd430c8", "example.com"],
            Ok("cfbff0d1-9375-5685-968c-48ce8b15ae17"),
        );
    }

    #[test]
    fn uuidv5_bad_namespace() {
        check(
            "uuidv5",
            &["bogus", "x"],
            Err("Call to function \"uuidv5\" failed: uuidv5() doesn't support namespace bogus"),
        );
    }
}
