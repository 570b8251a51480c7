//! `file`, `fileexists` and `templatefile`: the only functions that read the
//! world. Relative paths resolve against the calling module's directory.

use std::path::{Path, PathBuf};

use super::{Fail, FuncContext, string_arg};
use crate::lang::value::Value;

fn resolve(ctx: &FuncContext<'_>, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.base_dir.join(path)
    }
}

/// Reads a UTF-8 file, with Terraform's messages for a missing or binary file.
fn read(ctx: &FuncContext<'_>, path: &str) -> Result<(PathBuf, String), Fail> {
    let full = resolve(ctx, path);
    let bytes = std::fs::read(&full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fail::arg(
                0,
                format!(
                    "no file exists at {path:?}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource."
                ),
            )
        } else {
            Fail::arg(0, format!("failed to read {path:?}: {e}"))
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Fail::arg(
            0,
            format!(
                "contents of {path:?} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"
            ),
        )
    })?;
    Ok((full, text))
}

pub(super) fn file(args: Vec<Value>, ctx: &FuncContext<'_>) -> Result<Value, Fail> {
    let path = string_arg(&args, 0)?;
    Ok(Value::String(read(ctx, &path)?.1))
}

pub(super) fn fileexists(args: Vec<Value>, ctx: &FuncContext<'_>) -> Result<Value, Fail> {
    let path = string_arg(&args, 0)?;
    match std::fs::metadata(resolve(ctx, &path)) {
        Ok(metadata) if metadata.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(Fail::call(format!("{path:?} is not a regular file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(Fail::call(format!("failed to stat {path:?}: {e}"))),
    }
}

pub(super) fn templatefile(args: Vec<Value>, ctx: &FuncContext<'_>) -> Result<Value, Fail> {
    let path = string_arg(&args, 0)?;
    let vars = match args.get(1) {
        Some(vars @ (Value::Object(_) | Value::Map(_))) => vars.clone(),
        _ => return Err(Fail::arg(1, "template variables must be a map or object")),
    };
    let (full, source) = read(ctx, &path)?;
    (ctx.render_template)(&source, &full, vars).map_err(Fail::call)
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use super::super::test_support::*;
    use super::*;

    fn check(dir: &Path, name: &str, args: Vec<Value>, expected: Result<Value, &str>) {
        let render = |source: &str, _: &Path, vars: Value| {
            let name = vars
                .get_attr("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok(Value::String(source.replace("${name}", &name)))
        };
        let ctx = FuncContext {
            base_dir: dir,
            render_template: &render,
        };
        assert_eq!(
            call(name, args, &ctx).map_err(|e| e.to_string()),
            expected.map_err(str::to_string)
        );
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        std::fs::write(dir.path().join("hello.txt"), "hello\n")
            .expect("the fixture can be written");
        std::fs::write(dir.path().join("greet.tftpl"), "hi ${name}")
            .expect("the fixture can be written");
        std::fs::write(dir.path().join("binary"), [0xff, 0xfe])
            .expect("the fixture can be written");
        dir
    }

    #[test]
    fn file_reads_relative_to_base_dir() {
        let dir = fixture();
        check(dir.path(), "file", vec![s("hello.txt")], Ok(s("hello\n")));
    }

    #[test]
    fn file_missing() {
        let dir = fixture();
        check(
            dir.path(),
            "file",
            vec![s("nope.txt")],
            Err(
                "Invalid value for \"path\" parameter: no file exists at \"nope.txt\"; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource.",
            ),
        );
    }

    #[test]
    fn file_not_utf8() {
        let dir = fixture();
        check(
            dir.path(),
            "file",
            vec![s("binary")],
            Err(
                "Invalid value for \"path\" parameter: contents of \"binary\" are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead",
            ),
        );
    }

    #[test]
    fn fileexists_present() {
        let dir = fixture();
        check(
            dir.path(),
            "fileexists",
            vec![s("hello.txt")],
            Ok(Value::Bool(true)),
        );
    }

    #[test]
    fn fileexists_missing() {
        let dir = fixture();
        check(
            dir.path(),
            "fileexists",
            vec![s("nope.txt")],
            Ok(Value::Bool(false)),
        );
    }

    #[test]
    fn fileexists_directory() {
        let dir = fixture();
        check(
            dir.path(),
            "fileexists",
            vec![s(".")],
            Err("Call to function \"fileexists\" failed: \".\" is not a regular file"),
        );
    }

    #[test]
    fn templatefile_renders_with_vars() {
        let dir = fixture();
        let vars = Value::Object([("name".to_string(), s("bob"))].into());
        check(
            dir.path(),
            "templatefile",
            vec![s("greet.tftpl"), vars],
            Ok(s("hi bob")),
        );
    }

    #[test]
    fn templatefile_vars_must_be_an_object() {
        let dir = fixture();
        check(
            dir.path(),
            "templatefile",
            vec![s("greet.tftpl"), s("x")],
            Err("Invalid value for \"vars\" parameter: template variables must be a map or object"),
        );
    }
}
