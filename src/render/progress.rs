//! Apply progress: the engine's events drawn while an apply runs.
//!
//! Two displays. [`Output::Lines`] writes one timestamped line per event, for logs,
//! CI and pipes. [`Output::Bars`] keeps one bar per instance on a terminal: finished
//! steps over planned steps and the calls in flight, with failures printed above
//! the bars; [`Progress::finish`] clears the bars so that the summary follows them.
//!
//! Invariant: it draws only to the writer or draw target it is given and never
//! decides by itself whether there is a terminal; `cli` chooses the [`Output`].

use std::collections::HashMap;
use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub use indicatif::ProgressDrawTarget as DrawTarget;

use crate::addr::InstanceAddr;
use crate::apply::{Event, EventSink, Step};
use crate::plan::{ChangeAction, InstancePlan, Plan};

/// Where progress goes.
pub enum Output {
    /// One timestamped line per event.
    Lines(Box<dyn Write + Send>),
    /// A bar per instance, redrawn in place. A hidden target shows nothing at all,
    /// failures included, so it is for terminals only.
    Bars(DrawTarget),
}

/// Returns the sink the engine sends its events to, and the handle that starts
/// and ends the display.
pub fn sink(output: Output) -> (EventSink, Progress) {
    let display = match output {
        Output::Lines(writer) => Display::Lines(Mutex::new(writer)),
        Output::Bars(target) => Display::Bars(Bars {
            multi: MultiProgress::with_draw_target(target),
            instances: Mutex::new(HashMap::new()),
        }),
    };
    let shared = Arc::new(Shared {
        display,
        ticker: Mutex::new(None),
    });
    let events = shared.clone();
    (
        Arc::new(move |event: Event| events.event(&event)),
        Progress { shared },
    )
}

/// Returns how many steps apply takes for a plan: one per create, update and
/// delete, two per replacement (a delete and a create).
pub fn planned_steps(plan: &InstancePlan) -> u64 {
    plan.changes
        .iter()
        .map(|change| match change.action {
            ChangeAction::NoOp => 0,
            ChangeAction::Create | ChangeAction::Update | ChangeAction::Delete => 1,
            ChangeAction::Replace => 2,
        })
        .sum()
}

/// Starts and ends the display; clones share it.
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Shared>,
}

impl Progress {
    /// Draws a bar for every instance of the plan that has steps to take.
    ///
    /// Called once the apply is confirmed: events that come before (reading back
    /// interrupted creates) are printed as lines.
    pub fn begin(&self, plan: &Plan) {
        let Display::Bars(bars) = &self.shared.display else {
            return;
        };
        let planned: Vec<(&InstanceAddr, u64)> = plan
            .instances
            .iter()
            .map(|p| (&p.instance, planned_steps(p)))
            .filter(|(_, steps)| *steps > 0)
            .collect();
        if planned.is_empty() {
            return;
        }
        let name_width = planned
            .iter()
            .map(|(instance, _)| instance.to_string().chars().count())
            .max()
            .unwrap_or(0);
        let count_width = planned
            .iter()
            .map(|(_, steps)| steps.to_string().len())
            .max()
            .unwrap_or(1);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix}}  [{{bar:30}}] {{pos:>{count_width}}}/{{len:<{count_width}}}  {{wide_msg}}"
        ))
        .expect("the progress template is built from valid keys")
        .progress_chars("=> ");
        let mut instances = lock(&bars.instances);
        for (instance, steps) in planned {
            let bar = bars.multi.add(
                ProgressBar::new(steps)
                    .with_style(style.clone())
                    .with_prefix(format!("{:<name_width$}", instance.to_string())),
            );
            bar.tick();
            instances.insert(
                instance.clone(),
                InstanceBar {
                    bar,
                    in_flight: Vec::new(),
                    failed: 0,
                },
            );
        }
        drop(instances);
        // The seconds shown beside a call in flight move on between events.
        let (stop, ticks) = mpsc::channel::<()>();
        let shared = Arc::downgrade(&self.shared);
        let thread = std::thread::spawn(move || tick(&shared, &ticks));
        *lock(&self.shared.ticker) = Some(Ticker { stop, thread });
    }

    /// Prints a line: above the bars, or among the progress lines.
    pub fn note(&self, line: &str) {
        self.shared.line(line);
    }

    /// Clears the bars; the display draws nothing more.
    pub fn finish(&self) {
        let ticker = lock(&self.shared.ticker).take();
        if let Some(ticker) = ticker {
            let Ticker { stop, thread } = ticker;
            drop(stop);
            let _ = thread.join();
        }
        if let Display::Bars(bars) = &self.shared.display {
            for (_, instance) in lock(&bars.instances).drain() {
                instance.bar.finish_and_clear();
            }
            let _ = bars.multi.clear();
        }
    }
}

struct Shared {
    display: Display,
    ticker: Mutex<Option<Ticker>>,
}

enum Display {
    Lines(Mutex<Box<dyn Write + Send>>),
    Bars(Bars),
}

struct Bars {
    multi: MultiProgress,
    instances: Mutex<HashMap<InstanceAddr, InstanceBar>>,
}

/// One instance's bar and what its message says.
struct InstanceBar {
    bar: ProgressBar,
    in_flight: Vec<InFlight>,
    failed: usize,
}

/// A step that started and has not finished.
struct InFlight {
    address: String,
    step: Step,
    since: Instant,
}

/// The thread that redraws the bars every second; it stops when the sender is
/// dropped.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

fn tick(shared: &Weak<Shared>, ticks: &mpsc::Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = ticks.recv_timeout(Duration::from_secs(1)) {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Display::Bars(bars) = &shared.display {
            let now = Instant::now();
            for instance in lock(&bars.instances).values() {
                instance.redraw(now);
            }
        }
    }
}

impl Shared {
    fn event(&self, event: &Event) {
        match &self.display {
            Display::Lines(writer) => {
                // One write a line: the writer is often unbuffered stderr.
                let text = format!("{} {}\n", timestamp(), line(event));
                let mut writer = lock(writer);
                let _ = writer.write_all(text.as_bytes());
                let _ = writer.flush();
            }
            Display::Bars(bars) => {
                if !bars.event(event) {
                    let _ = bars.multi.println(line(event));
                }
            }
        }
    }

    fn line(&self, text: &str) {
        match &self.display {
            Display::Lines(writer) => {
                let text = format!("{text}\n");
                let mut writer = lock(writer);
                let _ = writer.write_all(text.as_bytes());
                let _ = writer.flush();
            }
            Display::Bars(bars) => {
                let _ = bars.multi.println(text);
            }
        }
    }
}

impl Bars {
    /// Moves an instance's bar; false when the event is not one a bar shows.
    fn event(&self, event: &Event) -> bool {
        let now = Instant::now();
        let mut instances = lock(&self.instances);
        match event {
            Event::Started {
                instance,
                address,
                step,
            } => {
                let Some(bar) = instances.get_mut(instance) else {
                    return false;
                };
                bar.in_flight.push(InFlight {
                    address: address.clone(),
                    step: *step,
                    since: now,
                });
                bar.redraw(now);
                true
            }
            Event::Finished {
                instance,
                address,
                step,
                ..
            } => {
                let Some(bar) = instances.get_mut(instance) else {
                    return false;
                };
                bar.land(address, *step);
                if *step != Step::ReadBack {
                    bar.bar.inc(1);
                }
                bar.redraw(now);
                true
            }
            Event::Failed {
                instance,
                address,
                step,
                ..
            } => {
                if let Some(bar) = instances.get_mut(instance) {
                    bar.land(address, *step);
                    bar.failed += 1;
                    bar.redraw(now);
                }
                // Failures stay on screen above the bars.
                false
            }
        }
    }
}

impl InstanceBar {
    fn land(&mut self, address: &str, step: Step) {
        if let Some(i) = self
            .in_flight
            .iter()
            .position(|f| f.address == address && f.step == step)
        {
            self.in_flight.remove(i);
        }
    }

    fn redraw(&self, now: Instant) {
        let done = self.bar.length() == Some(self.bar.position());
        self.bar
            .set_message(message(&self.in_flight, self.failed, done, now));
    }
}

/// The text beside a bar: the oldest call in flight and how long it has run, how
/// many others are in flight, and how many steps failed.
fn message(in_flight: &[InFlight], failed: usize, done: bool, now: Instant) -> String {
    let mut parts = Vec::new();
    if let Some(oldest) = in_flight.iter().min_by_key(|f| f.since) {
        let mut doing = format!(
            "{} {} ({}s)",
            verb(oldest.step),
            oldest.address,
            now.saturating_duration_since(oldest.since).as_secs()
        );
        if in_flight.len() > 1 {
            doing.push_str(&format!(" and {} more", in_flight.len() - 1));
        }
        parts.push(doing);
    } else if done {
        parts.push("done".to_string());
    }
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    parts.join(", ")
}

/// An event as a line, without the time.
fn line(event: &Event) -> String {
    match event {
        Event::Started {
            instance,
            address,
            step,
        } => format!("{instance}/{address}: {}", progressive(*step)),
        Event::Finished {
            instance,
            address,
            step,
            elapsed,
        } => format!(
            "{instance}/{address}: {} in {:.1}s",
            past(*step),
            elapsed.as_secs_f64()
        ),
        Event::Failed {
            instance,
            step,
            message,
            ..
        } => format!("{instance}/{message} ({step} failed)"),
    }
}

/// The current time in UTC, to the second.
fn timestamp() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second)
        .map_or_else(|_| now.to_string(), |t| t.to_string())
}

fn verb(step: Step) -> &'static str {
    match step {
        Step::Create => "creating",
        Step::Update => "updating",
        Step::Delete => "destroying",
        Step::ReadBack => "reading back",
    }
}

fn progressive(step: Step) -> &'static str {
    match step {
        Step::Create => "creating...",
        Step::Update => "updating...",
        Step::Delete => "destroying...",
        Step::ReadBack => "reading back an interrupted create...",
    }
}

fn past(step: Step) -> &'static str {
    match step {
        Step::Create => "created",
        Step::Update => "updated",
        Step::Delete => "destroyed",
        Step::ReadBack => "read back",
    }
}

/// Locks a mutex; a panic elsewhere while drawing does not stop the display.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests_support::{change, instance, only};

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A terminal that keeps what is on its screen.
    #[derive(Debug, Default)]
    struct Screen(Mutex<ScreenState>);

    const SCREEN_WIDTH: u16 = 200;

    #[derive(Debug, Default)]
    struct ScreenState {
        rows: Vec<String>,
        row: usize,
        column: usize,
    }

    impl ScreenState {
        fn write(&mut self, text: &str) {
            for c in text.chars() {
                if c == '\r' {
                    self.column = 0;
                    continue;
                }
                // A character written past the last column wraps, as terminals do;
                // indicatif pads each line to the width to get to the next one.
                if self.column >= usize::from(SCREEN_WIDTH) {
                    self.row += 1;
                    self.column = 0;
                }
                while self.rows.len() <= self.row {
                    self.rows.push(String::new());
                }
                let line = &mut self.rows[self.row];
                let mut chars: Vec<char> = line.chars().collect();
                chars.truncate(self.column);
                chars.push(c);
                *line = chars.into_iter().collect();
                self.column += 1;
            }
        }
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            SCREEN_WIDTH
        }
        fn height(&self) -> u16 {
            40
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            let mut s = lock(&self.0);
            s.row = s.row.saturating_sub(n);
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            lock(&self.0).row += n;
            Ok(())
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            lock(&self.0).column += n;
            Ok(())
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            let mut s = lock(&self.0);
            s.column = s.column.saturating_sub(n);
            Ok(())
        }
        fn write_line(&self, text: &str) -> std::io::Result<()> {
            let mut s = lock(&self.0);
            s.write(text);
            s.row += 1;
            s.column = 0;
            Ok(())
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            lock(&self.0).write(text);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            let mut s = lock(&self.0);
            let row = s.row;
            if let Some(line) = s.rows.get_mut(row) {
                line.clear();
            }
            s.column = 0;
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A screen the test keeps a handle on while the display draws to it.
    #[derive(Clone, Debug, Default)]
    struct SharedScreen(Arc<Screen>);

    impl indicatif::TermLike for SharedScreen {
        fn width(&self) -> u16 {
            self.0.width()
        }
        fn height(&self) -> u16 {
            self.0.height()
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_up(n)
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_down(n)
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_right(n)
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_left(n)
        }
        fn write_line(&self, text: &str) -> std::io::Result<()> {
            self.0.write_line(text)
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.0.write_str(text)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.clear_line()
        }
        fn flush(&self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    impl SharedScreen {
        /// The screen's non-empty lines, trailing spaces removed.
        fn lines(&self) -> Vec<String> {
            lock(&(self.0).0)
                .rows
                .iter()
                .map(|r| r.trim_end().to_string())
                .filter(|r| !r.is_empty())
                .collect()
        }
    }

    fn started(instance: &InstanceAddr, address: &str, step: Step) -> Event {
        Event::Started {
            instance: instance.clone(),
            address: address.to_string(),
            step,
        }
    }

    fn finished(instance: &InstanceAddr, address: &str, step: Step) -> Event {
        Event::Finished {
            instance: instance.clone(),
            address: address.to_string(),
            step,
            elapsed: Duration::from_millis(1250),
        }
    }

    fn failed(instance: &InstanceAddr, address: &str, step: Step) -> Event {
        Event::Failed {
            instance: instance.clone(),
            address: address.to_string(),
            step,
            message: format!("{address}: the API said no"),
        }
    }

    fn plan() -> Plan {
        only(instance(
            "payment",
            "production",
            vec![
                change("google_project.this", ChangeAction::Create, None, None),
                change(
                    "google_sql_database_instance.main",
                    ChangeAction::Replace,
                    None,
                    None,
                ),
                change("google_service_account.app", ChangeAction::NoOp, None, None),
                change("random_id.key", ChangeAction::Delete, None, None),
            ],
        ))
    }

    #[test]
    fn replacements_take_two_steps_and_no_ops_none() {
        assert_eq!(planned_steps(&plan().instances[0]), 4);
    }

    #[test]
    fn lines_are_timestamped_one_per_event() {
        let captured = Captured::default();
        let (events, progress) = sink(Output::Lines(Box::new(captured.clone())));
        let payment = InstanceAddr::new("payment", "production");
        progress.begin(&plan());
        events(started(&payment, "google_project.this", Step::Create));
        events(finished(&payment, "google_project.this", Step::Create));
        events(started(&payment, "random_id.key", Step::ReadBack));
        events(failed(&payment, "random_id.key", Step::Delete));
        progress.note("Interrupted.");
        progress.finish();
        let text = String::from_utf8(lock(&captured.0).clone()).expect("text");
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[..4] {
            let (time, _) = line.split_once(' ').expect("a time first");
            assert!(time.parse::<jiff::Timestamp>().is_ok(), "{line}");
        }
        let without_time: Vec<&str> = lines[..4]
            .iter()
            .map(|l| l.split_once(' ').expect("a time first").1)
            .collect();
        assert_eq!(
            without_time,
            [
                "payment/production/google_project.this: creating...",
                "payment/production/google_project.this: created in 1.2s",
                "payment/production/random_id.key: reading back an interrupted create...",
                "payment/production/random_id.key: the API said no (delete failed)",
            ]
        );
        assert_eq!(lines[4], "Interrupted.");
    }

    #[test]
    fn bars_count_steps_show_calls_in_flight_print_failures_and_clear() {
        let screen = SharedScreen::default();
        let (events, progress) = sink(Output::Bars(DrawTarget::term_like(Box::new(
            screen.clone(),
        ))));
        let payment = InstanceAddr::new("payment", "production");
        // Before the bars exist, events are lines.
        events(started(&payment, "random_id.key", Step::ReadBack));
        progress.begin(&plan());
        events(started(&payment, "google_project.this", Step::Create));
        events(finished(&payment, "google_project.this", Step::Create));
        events(started(
            &payment,
            "google_sql_database_instance.main",
            Step::Delete,
        ));
        events(started(&payment, "random_id.key", Step::Delete));
        let lines = screen.lines();
        assert_eq!(
            lines[0],
            "payment/production/random_id.key: reading back an interrupted create..."
        );
        let bar = lines.last().expect("a bar");
        assert!(
            bar.starts_with("payment/production  [==")
                && bar.contains("] 1/4  destroying google_sql_database_instance.main (")
                && bar.ends_with("s) and 1 more"),
            "{bar}"
        );

        events(failed(&payment, "random_id.key", Step::Delete));
        let lines = screen.lines();
        assert_eq!(
            lines[1],
            "payment/production/random_id.key: the API said no (delete failed)"
        );
        let bar = lines.last().expect("a bar");
        assert!(
            bar.contains("1/4  destroying google_sql_database_instance.main (")
                && bar.ends_with("s), 1 failed"),
            "{bar}"
        );

        progress.finish();
        assert_eq!(screen.lines().len(), 2, "{:?}", screen.lines());
    }

    #[test]
    fn a_bar_names_the_oldest_call_and_its_seconds() {
        let start = Instant::now();
        let in_flight = [
            InFlight {
                address: "google_sql_user.app".into(),
                step: Step::Update,
                since: start + Duration::from_secs(3),
            },
            InFlight {
                address: "google_sql_database_instance.main".into(),
                step: Step::Create,
                since: start,
            },
        ];
        let now = start + Duration::from_millis(12_400);
        assert_eq!(
            message(&in_flight, 0, false, now),
            "creating google_sql_database_instance.main (12s) and 1 more"
        );
        assert_eq!(
            message(&in_flight[..1], 2, false, now),
            "updating google_sql_user.app (9s), 2 failed"
        );
        assert_eq!(message(&[], 0, true, now), "done");
        assert_eq!(message(&[], 0, false, now), "");
    }
}
