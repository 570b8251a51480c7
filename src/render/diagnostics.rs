//! Diagnostics drawn the way rustc draws them, with annotate-snippets: the
//! message, `--> path:line:column`, the source lines with the span underlined
//! and labelled, related spans as secondary labels, then notes and help.
//!
//! Spans in a file the `SourceMap` does not hold (the detached `FileId(u32::MAX)`
//! of expressions that come from no file, such as `yagura console` input) are
//! drawn without a snippet.

use annotate_snippets::{Annotation, AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Style, plural};
use crate::diag::{Diagnostic, FileId, Severity, SourceFile, SourceMap, Span};

/// Returns every diagnostic drawn with its source, separated by blank lines and
/// ending with a newline (or the empty string when there are none).
pub fn render(diags: &[Diagnostic], sources: &SourceMap, style: Style) -> String {
    let renderer = match style {
        Style::Plain => Renderer::plain(),
        Style::Styled => Renderer::styled(),
    };
    let mut text = String::new();
    for diagnostic in diags {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&renderer.render(&[group(diagnostic, sources)]));
        text.push('\n');
    }
    text
}

/// Returns the closing line of a run that found problems, for example
/// `error: 3 problems found`.
pub fn summary(n_errors: usize, n_warnings: usize) -> String {
    let warnings = plural(n_warnings, "warning", "warnings");
    match (n_errors, n_warnings) {
        (0, 0) => "no problems found".to_string(),
        (0, _) => format!("warning: {warnings} found"),
        (_, 0) => format!("error: {} found", plural(n_errors, "problem", "problems")),
        (_, _) => format!(
            "error: {} and {warnings} found",
            plural(n_errors, "problem", "problems")
        ),
    }
}

fn group<'a>(diagnostic: &'a Diagnostic, sources: &'a SourceMap) -> Group<'a> {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut group = Group::with_title(level.primary_title(diagnostic.message.as_str()));

    // One snippet per file, the primary span's file first, each holding every
    // span of the diagnostic in that file. Spans whose file the map does not hold
    // are detached: they get no snippet.
    let mut files: Vec<(FileId, &'a SourceFile, Vec<Annotation<'a>>)> = Vec::new();
    let mut annotate = |span: Span, kind: AnnotationKind, label: Option<&'a str>| {
        let Some(source) = sources.try_get(span.file) else {
            return false;
        };
        let annotation = kind.span(clamp(&source.text, span)).label(label);
        match files.iter_mut().find(|(file, ..)| *file == span.file) {
            Some((_, _, annotations)) => annotations.push(annotation),
            None => files.push((span.file, source, vec![annotation])),
        }
        true
    };
    let primary_drawn = diagnostic
        .span
        .is_some_and(|span| annotate(span, AnnotationKind::Primary, diagnostic.label.as_deref()));
    for (span, label) in &diagnostic.related {
        annotate(*span, AnnotationKind::Context, Some(label.as_str()));
    }
    for (_, source, annotations) in files {
        let snippet = Snippet::source(source.text.as_str())
            .path(source.path.to_string_lossy().into_owned())
            .fold(true)
            .annotations(annotations);
        group = group.element(snippet);
    }

    // Without a snippet to hang it on, the label still says something useful.
    if !primary_drawn && let Some(label) = &diagnostic.label {
        group = group.element(Level::NOTE.message(label.as_str()));
    }
    for note in &diagnostic.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    group
}

/// Returns the span's byte range cut to the text and moved onto character
/// boundaries, so that a stale or wrong span cannot make the renderer panic.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let floor = |mut offset: usize| {
        offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    };
    let start = floor(span.start as usize);
    let end = floor(span.end as usize).max(start);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPANNER: &str = r#"resource "google_spanner_instance" "main" {
  name             = "ledger-main"
  config           = var.config
  display_name     = "Ledger"

  labels = {
    team = "ledger"
  }



  procesing_units = var.units
}
"#;

    const VARIABLES: &str = r#"variable "units" {
  type    = number
  default = 1000
}
"#;

    fn sources() -> (SourceMap, FileId, FileId) {
        let mut sources = SourceMap::default();
        let main = sources.add("modules/spanner/main.hcl".into(), SPANNER.to_string());
        let variables = sources.add(
            "modules/spanner/variables.hcl".into(),
            VARIABLES.to_string(),
        );
        (sources, main, variables)
    }

    fn span_of(file: FileId, text: &str, needle: &str) -> Span {
        let start = text.find(needle).expect("the needle is in the fixture");
        Span::new(file, start..start + needle.len())
    }

    fn check(diags: &[Diagnostic]) -> String {
        let (sources, _, _) = sources();
        let text = render(diags, &sources, Style::Plain);
        assert!(
            !text.contains('\x1b'),
            "plain output has escape codes:\n{text}"
        );
        text
    }

    fn unknown_attribute(main: FileId) -> Diagnostic {
        Diagnostic::error("unknown attribute `procesing_units` in google_spanner_instance \"main\"")
            .at(
                Some(span_of(main, SPANNER, "procesing_units")),
                "not in the schema of google_spanner_instance",
            )
            .help("did you mean `processing_units`?")
    }

    #[test]
    fn span_and_help() {
        let (_, main, _) = sources();
        insta::assert_snapshot!(check(&[unknown_attribute(main)]), @r#"
        error: unknown attribute `procesing_units` in google_spanner_instance "main"
          --> modules/spanner/main.hcl:12:3
           |
        12 |   procesing_units = var.units
           |   ^^^^^^^^^^^^^^^ not in the schema of google_spanner_instance
           |
           = help: did you mean `processing_units`?
        "#);
    }

    #[test]
    fn related_spans_notes_and_help() {
        let (_, main, variables) = sources();
        let diagnostic = Diagnostic::warning("`config` and `processing_units` disagree")
            .at(
                Some(span_of(main, SPANNER, "var.config")),
                "regional configs need at least 100 units",
            )
            .related(span_of(main, SPANNER, "var.units"), "units set here")
            .related(
                span_of(variables, VARIABLES, "default = 1000"),
                "default defined here",
            )
            .note("in instance ledger/production")
            .help("set `processing_units` to a multiple of 100");
        insta::assert_snapshot!(check(&[diagnostic]));
    }

    #[test]
    fn detached_and_several() {
        let (_, main, _) = sources();
        let detached = Diagnostic::error("call to unknown function `lenght`")
            .at(Some(Span::new(FileId(u32::MAX), 0..6)), "no such function")
            .help("did you mean `length`?");
        let plain =
            Diagnostic::error("state lock for payment/production is held by alice@example.com")
                .note("locked 12 minutes ago");
        insta::assert_snapshot!(check(&[detached, unknown_attribute(main), plain]));
    }

    #[test]
    fn message_only() {
        insta::assert_snapshot!(check(&[Diagnostic::error("cannot read state: permission denied")]), @"error: cannot read state: permission denied");
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let (_, main, _) = sources();
        let diagnostic =
            Diagnostic::error("stale span").at(Some(Span::new(main, 10_000..10_004)), "here");
        assert!(check(&[diagnostic]).contains("stale span"));
    }

    #[test]
    fn styled_output_has_colour() {
        let (sources, main, _) = sources();
        let text = render(&[unknown_attribute(main)], &sources, Style::Styled);
        assert!(text.contains('\x1b'));
    }

    #[test]
    fn summaries() {
        assert_eq!(summary(3, 0), "error: 3 problems found");
        assert_eq!(summary(1, 1), "error: 1 problem and 1 warning found");
        assert_eq!(summary(0, 2), "warning: 2 warnings found");
        assert_eq!(summary(0, 0), "no problems found");
    }
}
