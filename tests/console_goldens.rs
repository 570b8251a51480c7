//! Compares `yagura`'s console evaluation with what `terraform console` printed.
//!
//! `tests/goldens/console/expected.txt` is recorded by
//! `scripts/console-goldens.sh` from `corpus.txt`; this test needs no terraform.
//! Values must print identically; for an expression terraform rejects, yagura
//! must fail too (its message may differ). Every mismatch is listed before the
//! test fails.

use std::path::Path;

use yagura::lang::display::console_format;
use yagura::lang::eval::eval_console;

/// Expressions where yagura knowingly prints something else than terraform,
/// with what yagura prints today. Each entry must still hold: when one is
/// fixed, the test fails until the entry is removed.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[
    // FIXME: Values carry no type for null, so an unmatched optional group
    // prints as `null` where terraform prints the typed `tostring(null)`.
    (r#"regex("(a)(b)?", "a")"#, "[\n  \"a\",\n  null,\n]"),
    // FIXME: the same untyped null: terraform prints `null /* tuple */`.
    ("true ? null : [1]", "null"),
];

/// One recorded expression and what terraform printed.
struct Golden {
    expr: String,
    expected: Expected,
}

enum Expected {
    Value(String),
    Error(String),
}

/// Reads `## expr` headers (continued with a trailing `\`) each followed by
/// terraform's output and a blank line.
fn read_goldens(text: &str) -> Vec<Golden> {
    let mut goldens = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(first) = line.strip_prefix("## ") else {
            continue;
        };
        let mut expr = String::new();
        let mut header = first.to_string();
        while let Some(continued) = header.strip_suffix('\\') {
            expr.push_str(continued);
            expr.push('\n');
            header = lines
                .next()
                .and_then(|l| l.strip_prefix("## "))
                .unwrap_or_default()
                .to_string();
        }
        expr.push_str(&header);
        let mut body = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("## ") {
                break;
            }
            body.push(*next);
            lines.next();
        }
        if body.last() == Some(&"") {
            body.pop();
        }
        let output = body.join("\n");
        let expected = match output.strip_prefix("error: ") {
            Some(summary) if body.len() == 1 => Expected::Error(summary.to_string()),
            _ => Expected::Value(output),
        };
        goldens.push(Golden { expr, expected });
    }
    goldens
}

#[test]
fn console_matches_terraform() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/goldens/console/expected.txt"))
        .expect("tests/goldens/console/expected.txt is checked in");
    let goldens = read_goldens(&text);
    assert!(
        goldens.len() >= 300,
        "only {} goldens were read",
        goldens.len()
    );

    // Terraform ran in an empty directory; so does yagura.
    let empty_dir = tempfile::tempdir().expect("a temporary directory can be created");
    let mut mismatches = Vec::new();
    for golden in &goldens {
        let actual = eval_console(&golden.expr, empty_dir.path()).map(|v| console_format(&v));
        if let Some((_, today)) = KNOWN_DIVERGENCES
            .iter()
            .find(|(expr, _)| *expr == golden.expr)
        {
            if describe(&actual) != *today {
                mismatches.push(format!(
                    "## {}\nknown divergence changed; yagura now gives:\n{}\n",
                    golden.expr,
                    describe(&actual)
                ));
            }
            continue;
        }
        let matches = match (&golden.expected, &actual) {
            (Expected::Value(want), Ok(got)) => want == got,
            (Expected::Error(_), Err(_)) => true,
            _ => false,
        };
        if !matches {
            let want = match &golden.expected {
                Expected::Value(v) => v.clone(),
                Expected::Error(summary) => format!("error: {summary}"),
            };
            mismatches.push(format!(
                "## {}\nterraform:\n{want}\nyagura:\n{}\n",
                golden.expr,
                describe(&actual)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} console goldens differ:\n\n{}",
        mismatches.len(),
        goldens.len(),
        mismatches.join("\n")
    );
}

fn describe(actual: &Result<String, String>) -> String {
    match actual {
        Ok(v) => v.clone(),
        Err(e) => format!("error: {e}"),
    }
}
