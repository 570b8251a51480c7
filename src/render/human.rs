//! Plans as Terraform draws them on a terminal: one `# address will be created`
//! comment and one `+ resource "type" "name" { ... }` block per change, with
//! `=` aligned, unchanged attributes hidden, `# forces replacement` on the
//! attributes that force a replacement, and line diffs for long strings and lists.
//!
//! The same drawing, with the symbols moved to the first column, is the body of
//! the ```diff blocks of the Markdown renderer.

use std::collections::BTreeMap;
use std::io;

use anstyle::{AnsiColor, Effects};
use similar::{Algorithm, DiffTag, capture_diff_slices};

use super::{Style, marked_values, plural, resource_block};
use crate::addr::InstanceKey;
use crate::config::ResourceMode;
use crate::lang::Value;
use crate::plan::{ActionReason, ChangeAction, ChangeCounts, InstancePlan, Plan, PlannedChange};
use crate::schema::BlockSchema;

/// Unchanged lines kept around each change in a multi-line string.
const CONTEXT_LINES: usize = 3;

/// Writes a plan for a terminal: a symbol legend, one section per instance with
/// changes, one line per unchanged instance, and the `Plan:` summary line.
pub fn plan(plan: &Plan, out: &mut dyn io::Write, style: Style) -> io::Result<()> {
    let mut printer = Printer::new(Layout::Terminal(style));
    printer.plan(plan);
    out.write_all(printer.text.as_bytes())
}

/// Returns Terraform's summary sentence, `Plan: 2 to add, 1 to change, 1 to destroy.`
///
/// As in Terraform, a replacement counts once as an add and once as a destroy.
pub fn summary(counts: ChangeCounts) -> String {
    if counts.is_empty() {
        return "No changes. Your infrastructure matches the configuration.".to_string();
    }
    format!("Plan: {}.", counts_phrase(counts))
}

/// `2 to add, 1 to change, 1 to destroy`, replacements counted as add plus destroy.
fn counts_phrase(counts: ChangeCounts) -> String {
    let phrase = format!(
        "{} to add, {} to change, {} to destroy",
        counts.add + counts.replace,
        counts.change,
        counts.destroy + counts.replace
    );
    // Terraform puts imports first: `Plan: 1 to import, 0 to add, ...`.
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

/// Returns the changes of one instance with each line's symbol in the first
/// column (`+`, `-`, `!` for updates and replacements, or a space), as GitHub's
/// `diff` highlighting expects.
pub(crate) fn instance_diff(instance: &InstancePlan) -> String {
    let mut printer = Printer::new(Layout::DiffMarkers);
    printer.changes(instance);
    printer.text
}

/// Where the text goes, which decides where symbols are drawn and whether they are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Terminal(Style),
    DiffMarkers,
}

/// The action symbol in front of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Symbol {
    None,
    Create,
    Update,
    Delete,
    DeleteThenCreate,
    CreateThenDelete,
}

impl Symbol {
    fn text(self) -> &'static str {
        match self {
            Symbol::None => "   ",
            Symbol::Create => "  +",
            Symbol::Update => "  ~",
            Symbol::Delete => "  -",
            Symbol::DeleteThenCreate => "-/+",
            Symbol::CreateThenDelete => "+/-",
        }
    }

    fn diff_marker(self) -> char {
        match self {
            Symbol::None => ' ',
            Symbol::Create => '+',
            Symbol::Delete => '-',
            Symbol::Update | Symbol::DeleteThenCreate | Symbol::CreateThenDelete => '!',
        }
    }

    fn colour(self) -> anstyle::Style {
        let colour = match self {
            Symbol::None => return anstyle::Style::new(),
            Symbol::Create => AnsiColor::Green,
            Symbol::Update => AnsiColor::Yellow,
            Symbol::Delete => AnsiColor::Red,
            Symbol::DeleteThenCreate | Symbol::CreateThenDelete => AnsiColor::Magenta,
        };
        colour.on_default()
    }

    fn legend(self) -> &'static str {
        match self {
            Symbol::None => "",
            Symbol::Create => "create",
            Symbol::Update => "update in-place",
            Symbol::Delete => "destroy",
            Symbol::DeleteThenCreate => "destroy and then create replacement",
            Symbol::CreateThenDelete => "create replacement and then destroy",
        }
    }

    fn of_change(change: &PlannedChange) -> Symbol {
        match change.action {
            ChangeAction::NoOp => Symbol::None,
            ChangeAction::Create => Symbol::Create,
            ChangeAction::Update => Symbol::Update,
            ChangeAction::Replace if change.create_before_destroy => Symbol::CreateThenDelete,
            ChangeAction::Replace => Symbol::DeleteThenCreate,
            ChangeAction::Delete => Symbol::Delete,
        }
    }
}

const BOLD: anstyle::Style = anstyle::Style::new().effects(Effects::BOLD);

/// Accumulates the text of one rendering.
struct Printer<'p> {
    text: String,
    layout: Layout,
    /// The replace paths of the change being drawn.
    replace_paths: &'p [Vec<String>],
}

impl<'p> Printer<'p> {
    fn new(layout: Layout) -> Printer<'p> {
        Printer {
            text: String::new(),
            layout,
            replace_paths: &[],
        }
    }

    fn styled(&self) -> bool {
        self.layout == Layout::Terminal(Style::Styled)
    }

    /// Returns `text` wrapped in `style`'s escape codes when colour is on.
    fn paint(&self, style: anstyle::Style, text: &str) -> String {
        if self.styled() && style != anstyle::Style::new() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// Writes a line as is.
    fn raw(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    /// Writes `text` at a nesting level behind a symbol: four spaces a level, then
    /// the three-column symbol and a space, as Terraform lays plans out.
    fn line(&mut self, level: usize, symbol: Symbol, text: &str) {
        let indent = "    ".repeat(level);
        match self.layout {
            Layout::Terminal(_) => {
                let symbol = self.paint(symbol.colour(), symbol.text());
                self.raw(&format!("{indent}{symbol} {text}"));
            }
            Layout::DiffMarkers => {
                // The line without its symbol always starts with a space: move the
                // marker there so that the columns stay where the terminal has them.
                let blanked = format!("{indent}    {text}");
                self.raw(&format!("{}{}", symbol.diff_marker(), &blanked[1..]));
            }
        }
    }

    fn plan(&mut self, plan: &'p Plan) {
        let counts = plan.counts();
        if counts.is_empty() {
            for instance in &plan.instances {
                self.raw(&format!("{}: no changes.", instance.instance));
            }
            if !plan.instances.is_empty() {
                self.blank();
            }
            let summary = self.paint(BOLD, &summary(counts));
            self.raw(&summary);
            return;
        }
        self.legend(plan);
        for instance in &plan.instances {
            self.blank();
            if !instance.has_changes() {
                self.raw(&format!("{}: no changes.", instance.instance));
                continue;
            }
            let header = self.paint(BOLD, &instance.instance.to_string());
            self.raw(&format!("{header}: {}.", counts_phrase(instance.counts())));
            self.changes(instance);
        }
        self.blank();
        let summary = self.paint(BOLD, &summary(counts));
        self.raw(&summary);
    }

    /// Lists the symbols the plan uses, as Terraform does before the changes.
    fn legend(&mut self, plan: &Plan) {
        let used: Vec<Symbol> = plan
            .instances
            .iter()
            .flat_map(|instance| instance.changes.iter().map(Symbol::of_change))
            .collect();
        if used.iter().all(|s| *s == Symbol::None) {
            return;
        }
        self.raw("Resource actions are indicated with the following symbols:");
        for symbol in [
            Symbol::Create,
            Symbol::Update,
            Symbol::Delete,
            Symbol::DeleteThenCreate,
            Symbol::CreateThenDelete,
        ] {
            if used.contains(&symbol) {
                self.line(0, symbol, symbol.legend());
            }
        }
    }

    fn changes(&mut self, instance: &'p InstancePlan) {
        for change in instance.changes.iter().filter(|change| {
            change.action != ChangeAction::NoOp
                || change.previous_address.is_some()
                || change.importing.is_some()
        }) {
            self.blank();
            if change.action == ChangeAction::NoOp && change.importing.is_some() {
                self.imported(change);
            } else if change.action == ChangeAction::NoOp {
                self.moved(change);
            } else {
                self.change(change);
            }
        }
    }

    /// A resource that only changes its address.
    fn moved(&mut self, change: &'p PlannedChange) {
        let address = self.paint(BOLD, &change.addr.to_string());
        let previous = change.previous_address.as_deref().unwrap_or_default();
        self.raw(&format!("  # {previous} has moved to {address}"));
    }

    /// A resource that an `import` block adopts as it is.
    fn imported(&mut self, change: &'p PlannedChange) {
        let address = self.paint(BOLD, &change.addr.to_string());
        let id = change.importing.as_deref().unwrap_or_default();
        self.raw(&format!("  # {address} will be imported (id {id:?})"));
    }

    fn change(&mut self, change: &'p PlannedChange) {
        self.replace_paths = &change.replace_paths;
        let address = self.paint(BOLD, &change.addr.to_string());
        let keyword = match change.addr.mode {
            ResourceMode::Managed => "resource",
            ResourceMode::Data => "data",
        };
        let verb = match change.action {
            ChangeAction::NoOp => "has no changes",
            ChangeAction::Create => "will be created",
            ChangeAction::Update => "will be updated in-place",
            ChangeAction::Replace => "must be replaced",
            ChangeAction::Delete => "will be destroyed",
        };
        self.raw(&format!("  # {address} {verb}"));
        if let Some(id) = &change.importing {
            self.raw(&format!("  # (imported from id {id:?})"));
        }
        if let Some(previous) = &change.previous_address {
            self.raw(&format!("  # (moved from {previous})"));
        }
        if let Some(because) = reason(change) {
            self.raw(&format!("  # (because {because})"));
        }
        self.line(
            0,
            Symbol::of_change(change),
            &format!(
                "{keyword} {} {} {{",
                quote(&change.addr.type_name),
                quote(&change.addr.name)
            ),
        );
        let (before, after) = marked_values(change);
        let before = before.as_ref().and_then(mapping);
        let after = after.as_ref().and_then(mapping);
        self.body(
            1,
            before,
            after,
            resource_block(change.type_name()),
            &mut Vec::new(),
        );
        self.line(0, Symbol::None, "}");
    }

    /// Draws the attributes, then the nested blocks, of a resource or block.
    fn body(
        &mut self,
        level: usize,
        before: Option<&BTreeMap<String, Value>>,
        after: Option<&BTreeMap<String, Value>>,
        schema: Option<&BlockSchema>,
        path: &mut Vec<String>,
    ) {
        let empty = BTreeMap::new();
        let before = before.unwrap_or(&empty);
        let after = after.unwrap_or(&empty);
        let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
        names.sort();
        names.dedup();

        let mut attributes = Vec::new();
        let mut blocks = Vec::new();
        let mut hidden_attributes = 0;
        for name in names {
            let old = before.get(name).unwrap_or(&Value::Null);
            let new = after.get(name).unwrap_or(&Value::Null);
            if let Some(block_schema) = nested_block(schema, name, old, new) {
                blocks.push((name, old, new, block_schema));
            } else if old.is_null() && new.is_null() {
                continue;
            } else if same(old, new) {
                hidden_attributes += 1;
            } else {
                attributes.push((name, old, new));
            }
        }

        let width = attributes
            .iter()
            .map(|(name, _, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        let mut wrote_any = false;
        for (name, old, new) in attributes {
            path.push(name.clone());
            self.attribute(level, &format!("{name:<width$} = "), old, new, path);
            path.pop();
            wrote_any = true;
        }
        if hidden_attributes > 0 {
            self.line(
                level,
                Symbol::None,
                &hidden_comment(hidden_attributes, "attribute", "attributes"),
            );
            wrote_any = true;
        }

        let mut hidden_blocks = 0;
        for (name, old, new, block_schema) in blocks {
            let old_items = block_items(old);
            let new_items = block_items(new);
            for index in 0..old_items.len().max(new_items.len()) {
                let old_item = old_items.get(index);
                let new_item = new_items.get(index);
                if let (Some(old_item), Some(new_item)) = (old_item, new_item)
                    && same(old_item, new_item)
                {
                    hidden_blocks += 1;
                    continue;
                }
                if wrote_any {
                    self.blank();
                }
                path.push(name.clone());
                path.push(index.to_string());
                self.nested_block(level, name, old_item, new_item, block_schema, path);
                path.truncate(path.len() - 2);
                wrote_any = true;
            }
        }
        if hidden_blocks > 0 {
            if wrote_any {
                self.blank();
            }
            self.line(
                level,
                Symbol::None,
                &hidden_comment(hidden_blocks, "block", "blocks"),
            );
        }
    }

    fn nested_block(
        &mut self,
        level: usize,
        name: &str,
        old: Option<&Value>,
        new: Option<&Value>,
        schema: Option<&BlockSchema>,
        path: &mut Vec<String>,
    ) {
        let symbol = match (old, new) {
            (None, _) => Symbol::Create,
            (_, None) => Symbol::Delete,
            _ => Symbol::Update,
        };
        let note = self.forces_note(path);
        self.line(level, symbol, &format!("{name} {{{note}"));
        self.body(
            level + 1,
            old.and_then(mapping),
            new.and_then(mapping),
            schema,
            path,
        );
        self.line(level, Symbol::None, "}");
    }

    /// Draws one changed attribute (or map entry) whose line starts with `prefix`.
    fn attribute(&mut self, level: usize, prefix: &str, old: &Value, new: &Value, path: &[String]) {
        let note = self.forces_note(path);
        if old.is_null() {
            self.one_sided(level, Symbol::Create, prefix, new, "", &note);
        } else if new.is_null() {
            self.one_sided(level, Symbol::Delete, prefix, old, " -> null", &note);
        } else {
            self.update(level, prefix, old, new, path, &note);
        }
    }

    /// Draws a value that exists on one side only, every line behind `symbol`.
    fn one_sided(
        &mut self,
        level: usize,
        symbol: Symbol,
        prefix: &str,
        value: &Value,
        tail: &str,
        note: &str,
    ) {
        self.one_sided_with(level, symbol, symbol, prefix, value, tail, note);
    }

    /// Like `one_sided`, with a different symbol for the first line than for the
    /// elements inside.
    #[allow(clippy::too_many_arguments)]
    fn one_sided_with(
        &mut self,
        level: usize,
        symbol: Symbol,
        inner: Symbol,
        prefix: &str,
        value: &Value,
        tail: &str,
        note: &str,
    ) {
        if let Some(text) = inline(value) {
            self.line(level, symbol, &format!("{prefix}{text}{tail}{note}"));
            return;
        }
        match value {
            Value::String(text) => {
                self.line(level, symbol, &format!("{prefix}<<-EOT{note}"));
                for line in text.lines() {
                    self.line(level + 1, Symbol::None, line);
                }
                self.line(level, Symbol::None, &format!("EOT{tail}"));
            }
            Value::Object(entries) | Value::Map(entries) => {
                let is_map = matches!(value, Value::Map(_));
                self.line(level, symbol, &format!("{prefix}{{{note}"));
                let shown: Vec<(&String, &Value)> = entries
                    .iter()
                    .filter(|(_, entry)| is_map || !entry.is_null())
                    .collect();
                let keys: Vec<String> =
                    shown.iter().map(|(key, _)| key_text(key, is_map)).collect();
                let width = keys
                    .iter()
                    .map(|key| key.chars().count())
                    .max()
                    .unwrap_or(0);
                for (key, (_, entry)) in keys.iter().zip(shown) {
                    self.one_sided(
                        level + 1,
                        inner,
                        &format!("{key:<width$} = "),
                        entry,
                        "",
                        "",
                    );
                }
                self.line(level, Symbol::None, &format!("}}{tail}"));
            }
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                self.line(level, symbol, &format!("{prefix}[{note}"));
                for item in items {
                    self.one_sided(level + 1, inner, "", item, ",", "");
                }
                self.line(level, Symbol::None, &format!("]{tail}"));
            }
            // `inline` draws every other kind of value.
            _ => self.line(level, symbol, &format!("{prefix}{tail}{note}")),
        }
    }

    /// Draws a value that changes from `old` to `new`, neither null.
    fn update(
        &mut self,
        level: usize,
        prefix: &str,
        old: &Value,
        new: &Value,
        path: &[String],
        note: &str,
    ) {
        match (old, new) {
            (Value::Sensitive(_), _) | (_, Value::Sensitive(_)) => {
                self.line(
                    level,
                    Symbol::Update,
                    &format!("{prefix}(sensitive value){note}"),
                );
            }
            (_, Value::Unknown) => match inline(old) {
                Some(text) => self.line(
                    level,
                    Symbol::Update,
                    &format!("{prefix}{text} -> (known after apply){note}"),
                ),
                None => self.one_sided_with(
                    level,
                    Symbol::Update,
                    Symbol::Delete,
                    prefix,
                    old,
                    " -> (known after apply)",
                    note,
                ),
            },
            (Value::String(old_text), Value::String(new_text))
                if old_text.contains('\n') || new_text.contains('\n') =>
            {
                self.string_diff(level, prefix, old_text, new_text, note);
            }
            (Value::Object(old_entries), Value::Object(new_entries)) => {
                self.mapping_diff(level, prefix, old_entries, new_entries, false, path, note);
            }
            (Value::Map(old_entries), Value::Map(new_entries))
            | (Value::Map(old_entries), Value::Object(new_entries))
            | (Value::Object(old_entries), Value::Map(new_entries)) => {
                self.mapping_diff(level, prefix, old_entries, new_entries, true, path, note);
            }
            (
                Value::Tuple(old_items) | Value::List(old_items) | Value::Set(old_items),
                Value::Tuple(new_items) | Value::List(new_items) | Value::Set(new_items),
            ) => self.sequence_diff(level, prefix, old_items, new_items, note),
            _ => match (inline(old), inline(new)) {
                (Some(old_text), Some(new_text)) => {
                    self.line(
                        level,
                        Symbol::Update,
                        &format!("{prefix}{old_text} -> {new_text}{note}"),
                    );
                }
                _ => {
                    self.one_sided(level, Symbol::Delete, prefix, old, " -> null", note);
                    self.one_sided(level, Symbol::Create, prefix, new, "", "");
                }
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn mapping_diff(
        &mut self,
        level: usize,
        prefix: &str,
        old: &BTreeMap<String, Value>,
        new: &BTreeMap<String, Value>,
        is_map: bool,
        path: &[String],
        note: &str,
    ) {
        self.line(level, Symbol::Update, &format!("{prefix}{{{note}"));
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut changed = Vec::new();
        let mut hidden = 0;
        for key in keys {
            let old_entry = old.get(key).unwrap_or(&Value::Null);
            let new_entry = new.get(key).unwrap_or(&Value::Null);
            if old_entry.is_null() && new_entry.is_null() {
                continue;
            }
            if same(old_entry, new_entry) {
                hidden += 1;
            } else {
                changed.push((key_text(key, is_map), key, old_entry, new_entry));
            }
        }
        let width = changed
            .iter()
            .map(|(text, ..)| text.chars().count())
            .max()
            .unwrap_or(0);
        for (text, key, old_entry, new_entry) in changed {
            let mut entry_path = path.to_vec();
            entry_path.push(key.clone());
            self.attribute(
                level + 1,
                &format!("{text:<width$} = "),
                old_entry,
                new_entry,
                &entry_path,
            );
        }
        if hidden > 0 {
            let comment = if is_map {
                hidden_comment(hidden, "element", "elements")
            } else {
                hidden_comment(hidden, "attribute", "attributes")
            };
            self.line(level + 1, Symbol::None, &comment);
        }
        self.line(level, Symbol::None, "}");
    }

    /// Draws a list as an element diff: removed and added elements, and a count
    /// of the unchanged ones in between.
    fn sequence_diff(
        &mut self,
        level: usize,
        prefix: &str,
        old: &[Value],
        new: &[Value],
        note: &str,
    ) {
        self.line(level, Symbol::Update, &format!("{prefix}[{note}"));
        let old_keys: Vec<String> = old.iter().map(element_key).collect();
        let new_keys: Vec<String> = new.iter().map(element_key).collect();
        for op in capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys) {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                let n = old_range.len();
                self.line(
                    level + 1,
                    Symbol::None,
                    &hidden_comment(n, "element", "elements"),
                );
                continue;
            }
            for item in &old[old_range] {
                self.one_sided(level + 1, Symbol::Delete, "", item, ",", "");
            }
            for item in &new[new_range] {
                self.one_sided(level + 1, Symbol::Create, "", item, ",", "");
            }
        }
        self.line(level, Symbol::None, "]");
    }

    /// Draws a multi-line string as a heredoc with a line diff inside, keeping a
    /// few unchanged lines around each change.
    fn string_diff(&mut self, level: usize, prefix: &str, old: &str, new: &str, note: &str) {
        let old_lines: Vec<&str> = old.lines().collect();
        let new_lines: Vec<&str> = new.lines().collect();
        if old_lines == new_lines {
            // Only line endings differ, which a heredoc cannot show.
            let text = format!("{prefix}{} -> {}{note}", quote(old), quote(new));
            self.line(level, Symbol::Update, &text);
            return;
        }
        self.line(level, Symbol::Update, &format!("{prefix}<<-EOT{note}"));
        let ops = capture_diff_slices(Algorithm::Myers, &old_lines, &new_lines);
        let n_ops = ops.len();
        for (i, op) in ops.into_iter().enumerate() {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                let lines = &old_lines[old_range];
                let head = if i == 0 { 0 } else { CONTEXT_LINES };
                let tail = if i + 1 == n_ops { 0 } else { CONTEXT_LINES };
                if head + tail >= lines.len() {
                    for line in lines {
                        self.line(level + 1, Symbol::None, line);
                    }
                } else {
                    for line in &lines[..head] {
                        self.line(level + 1, Symbol::None, line);
                    }
                    let hidden = lines.len() - head - tail;
                    self.line(
                        level + 1,
                        Symbol::None,
                        &hidden_comment(hidden, "line", "lines"),
                    );
                    for line in &lines[lines.len() - tail..] {
                        self.line(level + 1, Symbol::None, line);
                    }
                }
                continue;
            }
            for line in &old_lines[old_range] {
                self.line(level + 1, Symbol::Delete, line);
            }
            for line in &new_lines[new_range] {
                self.line(level + 1, Symbol::Create, line);
            }
        }
        self.line(level, Symbol::None, "EOT");
    }

    /// Returns ` # forces replacement` when the attribute at `path` forces it.
    fn forces_note(&self, path: &[String]) -> String {
        let without_indices = |steps: &[String]| -> Vec<String> {
            steps
                .iter()
                .filter(|step| !step.chars().all(|c| c.is_ascii_digit()))
                .cloned()
                .collect()
        };
        let forces = self.replace_paths.iter().any(|replace_path| {
            replace_path == path || without_indices(replace_path) == without_indices(path)
        });
        if forces {
            " # forces replacement".to_string()
        } else {
            String::new()
        }
    }
}

/// The `(because ...)` comment Terraform adds to a deletion.
fn reason(change: &PlannedChange) -> Option<String> {
    match (&change.reason, &change.addr.key) {
        (Some(ActionReason::NoLongerInConfig), _) => {
            Some(format!("{} is not in configuration", change.addr))
        }
        (Some(ActionReason::Deposed), _) => {
            Some("it is the old object of a replacement that an interrupted apply left".to_string())
        }
        (Some(ActionReason::KeyNoLongerInConfig), InstanceKey::Int(index)) => {
            Some(format!("index [{index}] is out of range for count"))
        }
        (Some(ActionReason::KeyNoLongerInConfig), key @ InstanceKey::Str(_)) => {
            Some(format!("key {key} is not in for_each map"))
        }
        (Some(ActionReason::KeyNoLongerInConfig), InstanceKey::None) => Some(format!(
            "{} has neither count nor for_each any more",
            change.addr
        )),
        (None, _) => None,
    }
}

/// Returns the schema to draw `name` with when it is a nested block, or `None`
/// when it is an attribute.
///
/// Blocks are lists of objects in values. The schema decides when it knows the
/// name; for types yagura has no schema of, any non-empty list of objects is drawn
/// as blocks, as Terraform draws most of them.
fn nested_block<'s>(
    schema: Option<&'s BlockSchema>,
    name: &str,
    old: &Value,
    new: &Value,
) -> Option<Option<&'s BlockSchema>> {
    let shaped = |value: &Value| match value {
        Value::Null => true,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            items.iter().all(|item| matches!(item, Value::Object(_)))
        }
        _ => false,
    };
    if !shaped(old) || !shaped(new) {
        return None;
    }
    match schema {
        Some(schema) if schema.attr(name).is_some() => None,
        Some(schema) if schema.block(name).is_some() => {
            schema.block(name).map(|block| Some(block.block))
        }
        _ if block_items(old).is_empty() && block_items(new).is_empty() => None,
        _ => Some(None),
    }
}

fn block_items(value: &Value) -> &[Value] {
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// The entries of an object or map that does not carry the sensitive mark.
fn mapping(value: &Value) -> Option<&BTreeMap<String, Value>> {
    match value {
        Value::Object(entries) | Value::Map(entries) => Some(entries),
        _ => None,
    }
}

/// Returns true when two values are equal once sensitive marks are ignored.
fn same(old: &Value, new: &Value) -> bool {
    old == new || old.clone().unmark_deep().0 == new.clone().unmark_deep().0
}

/// Returns a value's one-line text, or `None` for multi-line strings and
/// non-empty collections.
fn inline(value: &Value) -> Option<String> {
    match value {
        Value::Sensitive(_) => Some("(sensitive value)".to_string()),
        Value::Unknown => Some("(known after apply)".to_string()),
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.contains('\n') => Some(quote(s)),
        Value::String(_) => None,
        Value::Object(entries) | Value::Map(entries) if entries.is_empty() => {
            Some("{}".to_string())
        }
        Value::Tuple(items) | Value::List(items) | Value::Set(items) if items.is_empty() => {
            Some("[]".to_string())
        }
        Value::Object(_) | Value::Map(_) | Value::Tuple(_) | Value::List(_) | Value::Set(_) => None,
    }
}

/// Quotes a string with JSON escapes, which also keeps control characters in
/// values from reaching the terminal.
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Map keys are quoted; object attribute names only when they are not identifiers.
fn key_text(key: &str, is_map: bool) -> String {
    let identifier = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if is_map || !identifier {
        quote(key)
    } else {
        key.to_string()
    }
}

/// What list elements are compared by: their JSON text, marks included.
fn element_key(value: &Value) -> String {
    format!(
        "{}{}",
        if value.contains_sensitive() { "s:" } else { "" },
        value.to_json()
    )
}

fn hidden_comment(n: usize, singular: &str, plural_word: &str) -> String {
    format!(
        "# ({} hidden)",
        plural(
            n,
            &format!("unchanged {singular}"),
            &format!("unchanged {plural_word}")
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests_support::{self as support, change, instance, object, only, s};

    fn render(plan: &Plan, style: Style) -> String {
        let mut out = Vec::new();
        super::plan(plan, &mut out, style).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the renderer writes UTF-8")
    }

    fn check(plan: &Plan) -> String {
        let text = render(plan, Style::Plain);
        assert!(
            !text.contains('\x1b'),
            "plain output has escape codes:\n{text}"
        );
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
        payment/development: no changes.

        No changes. Your infrastructure matches the configuration.
        ");
    }

    #[test]
    fn fleet_sections_and_summary() {
        let text = check(&support::fleet());
        assert!(text.contains("\npayment/development: no changes.\n"));
        assert!(text.contains("\npayment/production: 3 to add, 0 to change, 0 to destroy.\n"));
        assert!(
            text.ends_with("\nPlan: 5 to add, 4 to change, 5 to destroy.\n"),
            "{text}"
        );
    }

    #[test]
    fn secrets_never_appear() {
        let text = check(&support::fleet());
        for secret in ["hunter2", "correct horse", "old-secret", "new-secret"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
    }

    #[test]
    fn styled_output_colours_only_symbols_and_headings() {
        let text = render(&only(support::delete()), Style::Styled);
        assert!(text.contains("\x1b[31m  -\x1b[0m resource"), "{text}");
        let plain: String = anstream::adapter::strip_str(&text).to_string();
        assert_eq!(plain, render(&only(support::delete()), Style::Plain));
    }

    #[test]
    fn long_strings_keep_context_around_changes() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\n");
        let before = object(&[("script", s(&old))]);
        let after = object(&[("script", s(&new))]);
        let plan = only(instance(
            "a",
            "b",
            vec![change(
                "example_thing.x",
                ChangeAction::Update,
                Some(before),
                Some(after),
            )],
        ));
        insta::assert_snapshot!(instance_diff(&plan.instances[0]).trim_start_matches('\n'), @r#"
          # example_thing.x will be updated in-place
        !   resource "example_thing" "x" {
        !       script = <<-EOT
                    # (6 unchanged lines hidden)
                    line 7
                    line 8
                    line 9
        -           line 10
        +           line ten
                    line 11
                    line 12
                    line 13
                    # (7 unchanged lines hidden)
                EOT
            }
        "#);
    }

    #[test]
    fn summary_counts_replacements_twice() {
        let counts = ChangeCounts {
            add: 1,
            change: 2,
            replace: 1,
            destroy: 0,
            moved: 0,
            import: 0,
        };
        assert_eq!(
            summary(counts),
            "Plan: 2 to add, 2 to change, 1 to destroy."
        );
        let with_import = ChangeCounts {
            import: 1,
            ..counts
        };
        assert_eq!(
            summary(with_import),
            "Plan: 1 to import, 2 to add, 2 to change, 1 to destroy."
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quote("a\x1b[31mb"), r#""a\u001b[31mb""#);
    }
}
