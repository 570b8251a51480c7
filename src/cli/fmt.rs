//! `yagura fmt`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, error_line};

#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Check only: list the files that are not formatted and exit with 1 if any
    #[arg(long)]
    check: bool,
    /// Files or directories to format [default: the whole repo]
    paths: Vec<PathBuf>,
}

/// The `.hcl` files under a path, recursively, skipping hidden directories and `state/`.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" || name == "state" {
            continue;
        }
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if name.ends_with(".hcl") {
            out.push(entry);
        }
    }
    Ok(())
}

pub fn run(root: &Path, args: FmtArgs) -> i32 {
    let roots: Vec<PathBuf> = if args.paths.is_empty() {
        vec![root.to_path_buf()]
    } else {
        args.paths.iter().map(|p| root.join(p)).collect()
    };
    let mut files = Vec::new();
    for r in &roots {
        if let Err(e) = collect(r, &mut files) {
            error_line(format!("cannot read {}: {e}", r.display()));
            return EXIT_ERROR;
        }
    }
    let mut failed = false;
    let mut unformatted = 0;
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                error_line(format!("cannot read {}: {e}", file.display()));
                failed = true;
                continue;
            }
        };
        let formatted = match crate::fmt::format_source(&text) {
            Ok(f) => f,
            Err(e) => {
                error_line(format!(
                    "cannot format {}:{}:{}: {}",
                    file.display(),
                    e.location().line(),
                    e.location().column(),
                    e.message()
                ));
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        let shown = file.strip_prefix(root).unwrap_or(&file);
        println!("{}", shown.display());
        if !args.check
            && let Err(e) = std::fs::write(&file, formatted)
        {
            error_line(format!("cannot write {}: {e}", file.display()));
            failed = true;
        }
    }
    if failed || (args.check && unformatted > 0) {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}
