//! Plans as GitHub-flavoured Markdown for a pull-request comment: a summary
//! table of the instances with changes, a line for the unchanged ones, then one
//! collapsed `<details>` section per changed instance holding its human
//! rendering in a ```diff block.
//!
//! Counts here are by kind, replacements in a column of their own, unlike the
//! terminal's `Plan:` line, which follows Terraform in counting a replacement as
//! one add and one destroy.

use std::fmt::Write as _;

use super::{human, plural};
use crate::plan::{ChangeCounts, InstancePlan, Plan};

/// The longest comment GitHub accepts, in characters.
const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Room kept for the sentence naming the instances whose diffs are left out.
const OMISSION_RESERVE: usize = 4_096;

/// Returns the plan as Markdown for a pull-request comment.
///
/// The comment stays within GitHub's size limit: when the diffs do not all
/// fit, the later ones are left out and the comment names their instances.
pub fn plan(plan: &Plan) -> String {
    let mut text = String::new();
    let counts = plan.counts();
    let (changed, unchanged): (Vec<&InstancePlan>, Vec<&InstancePlan>) = plan
        .instances
        .iter()
        .partition(|instance| instance.has_changes());

    text.push_str("### yagura plan\n\n");
    if counts.is_empty() {
        text.push_str("No changes. Your infrastructure matches the configuration.\n");
        if !unchanged.is_empty() {
            text.push('\n');
            let _ = writeln!(
                text,
                "Checked {}: {}.",
                plural(unchanged.len(), "instance", "instances"),
                names(&unchanged)
            );
        }
        return text;
    }

    let _ = writeln!(
        text,
        "**{}** in {}.",
        counts_phrase(counts),
        plural(changed.len(), "instance", "instances")
    );
    text.push('\n');
    text.push_str("| instance | add | change | replace | destroy |\n");
    text.push_str("|---|--:|--:|--:|--:|\n");
    for instance in &changed {
        let c = instance.counts();
        let _ = writeln!(
            text,
            "| `{}` | {} | {} | {} | {} |",
            instance.instance, c.add, c.change, c.replace, c.destroy
        );
    }
    if !unchanged.is_empty() {
        text.push('\n');
        let _ = writeln!(
            text,
            "No changes in {}: {}.",
            plural(unchanged.len(), "other instance", "other instances"),
            names(&unchanged)
        );
    }
    // GitHub refuses comments longer than its limit, so the diffs that do not
    // fit are left out (in plan order, so the cut is easy to explain) and named.
    let mut omitted = Vec::new();
    let mut length = text.chars().count();
    for instance in &changed {
        let section = details(instance);
        let section_length = section.chars().count();
        if omitted.is_empty() && length + section_length + OMISSION_RESERVE <= GITHUB_COMMENT_LIMIT
        {
            text.push_str(&section);
            length += section_length;
        } else {
            omitted.push(*instance);
        }
    }
    if !omitted.is_empty() {
        text.push('\n');
        let _ = writeln!(
            text,
            "The diffs of {} are left out to keep this comment within GitHub's size limit: {}. \
             Run `yagura plan` to see them.",
            plural(omitted.len(), "instance", "instances"),
            names(&omitted)
        );
    }
    text
}

/// One collapsed section holding the diff of an instance, starting with a blank line.
fn details(instance: &InstancePlan) -> String {
    let mut text = String::new();
    text.push('\n');
    let _ = writeln!(
        text,
        "<details><summary>{} — {}</summary>",
        escape_html(&instance.instance.to_string()),
        counts_phrase(instance.counts())
    );
    // GitHub renders Markdown inside <details> only with blank lines around it.
    text.push('\n');
    let diff = human::instance_diff(instance);
    let fence = fence_for(&diff);
    let _ = writeln!(text, "{fence}diff");
    text.push_str(diff.trim_start_matches('\n'));
    let _ = writeln!(text, "{fence}");
    text.push('\n');
    text.push_str("</details>\n");
    text
}

/// `2 to add, 1 to change, 1 to replace, 0 to destroy`.
fn counts_phrase(counts: ChangeCounts) -> String {
    let phrase = format!(
        "{} to add, {} to change, {} to replace, {} to destroy",
        counts.add, counts.change, counts.replace, counts.destroy
    );
    let phrase = if counts.import > 0 {
        format!("{} to import, {phrase}", counts.import)
    } else {
        phrase
    };
    if counts.moved > 0 {
        format!("{phrase}, {} to move", counts.moved)
    } else {
        phrase
    }
}

fn names(instances: &[&InstancePlan]) -> String {
    instances
        .iter()
        .map(|instance| format!("`{}`", instance.instance))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A backtick fence longer than any run of backticks in the body, so that a value
/// containing ``` cannot end the block early.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Escapes text placed inside HTML tags, where Markdown escapes do not apply.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests_support::{self as support, only};

    fn check(plan: &Plan) -> String {
        let text = super::plan(plan);
        assert!(!text.contains('\x1b'), "Markdown has escape codes:\n{text}");
        for secret in ["hunter2", "correct horse", "old-secret", "new-secret"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        text
    }

    #[test]
    fn create() {
        insta::assert_snapshot!(check(&only(support::create())));
    }

    #[test]
    fn update() {
        insta::assert_snapshot!(check(&only(support::update())));
    }

    #[test]
    fn replace() {
        insta::assert_snapshot!(check(&only(support::replace())));
    }

    #[test]
    fn delete() {
        insta::assert_snapshot!(check(&only(support::delete())));
    }

    #[test]
    fn no_changes() {
        insta::assert_snapshot!(check(&only(support::unchanged())), @r"
        ### yagura plan

        No changes. Your infrastructure matches the configuration.

        Checked 1 instance: `payment/development`.
        ");
    }

    #[test]
    fn fleet_table() {
        let text = check(&support::fleet());
        let table: Vec<&str> = text.lines().filter(|line| line.starts_with('|')).collect();
        insta::assert_snapshot!(table.join("\n"), @r"
        | instance | add | change | replace | destroy |
        |---|--:|--:|--:|--:|
        | `payment/production` | 3 | 0 | 0 | 0 |
        | `payment/staging` | 0 | 4 | 0 | 0 |
        | `ledger/production` | 0 | 0 | 2 | 0 |
        | `ledger/staging` | 0 | 0 | 0 | 3 |
        ");
        assert!(text.contains("\nNo changes in 1 other instance: `payment/development`.\n"));
    }

    #[test]
    fn diffs_beyond_the_size_limit_are_left_out() {
        let mut instances = Vec::new();
        for i in 0..40 {
            instances.push(support::instance(
                &format!("svc{i}"),
                "production",
                support::create().changes,
            ));
        }
        let text = check(&Plan { instances });
        assert!(text.chars().count() <= GITHUB_COMMENT_LIMIT);
        assert!(text.contains("<details><summary>svc0/production"));
        assert!(!text.contains("<details><summary>svc39/production"));
        assert!(text.contains("to keep this comment within GitHub's size limit: `svc"));
        assert!(text.trim_end().ends_with("Run `yagura plan` to see them."));
    }

    #[test]
    fn fences_outgrow_backticks_in_values() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
