//! Ctrl-C during `yagura apply`: the binary against fake-gcp, with local state.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use support::{Fake, PLATFORM, PROJECT, SPEC, succeeded, text};
use yagura::addr::InstanceAddr;
use yagura::state::Backend;
use yagura::state::local::LocalBackend;

const INSTANCE: &str = "demo/development";

fn repo() -> tempfile::TempDir {
    support::repo_with(PLATFORM, SPEC)
}

fn command(dir: &Path, fake: &Fake, args: &[&str]) -> Command {
    support::yagura_command(dir, fake, args)
}

fn read_state(dir: &Path) -> yagura::state::StateDocument {
    support::runtime()
        .block_on(
            LocalBackend::new(dir.join("state")).read(&InstanceAddr::new("demo", "development")),
        )
        .expect("the state is readable")
        .expect("the state is written")
}

/// The address in a progress line such as
/// `2026-01-02T03:04:05Z demo/development/google_project.this: creating...`.
fn progress_address<'a>(line: &'a str, ending: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix(INSTANCE)?.strip_prefix('/')?;
    let (address, what) = rest.split_once(": ")?;
    what.starts_with(ending).then_some(address)
}

/// Interrupts an apply while the project's create is in flight: that create
/// finishes and is recorded, nothing else starts, the lock is released, and the
/// next apply creates the rest exactly once.
#[test]
fn ctrl_c_finishes_the_calls_in_flight_records_them_and_releases_the_lock() {
    // Every call takes 200 ms, so a create (a call, then operation polls) is still
    // in flight when the signal arrives just after it started.
    let fake = Fake::start(&["--latency-ms", "200"]);
    let dir = repo();
    let mut child = command(dir.path(), &fake, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("yagura starts");
    let mut stderr_lines = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    for line in lines.by_ref() {
        let line = line.expect("stderr is text");
        let first_create = line.ends_with(": creating...");
        stderr_lines.push(line);
        if first_create {
            break;
        }
    }
    assert!(
        stderr_lines
            .last()
            .is_some_and(|l| l.ends_with(": creating...")),
        "no create started:\n{}",
        stderr_lines.join("\n")
    );
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success(), "SIGINT is delivered");
    for line in lines {
        stderr_lines.push(line.expect("stderr is text"));
    }
    let output = child.wait_with_output().expect("yagura finishes");
    let stdout = text(&output.stdout);
    let stderr = stderr_lines.join("\n");
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Interrupted: waiting for the calls in flight, then recording them."),
        "{stderr}"
    );
    assert!(stdout.contains("Apply interrupted"), "{stdout}");

    // Every create that started finished and is in the state, with no intent left.
    let started: Vec<&str> = stderr_lines
        .iter()
        .filter_map(|l| progress_address(l, "creating..."))
        .collect();
    let created: Vec<&str> = stderr_lines
        .iter()
        .filter_map(|l| progress_address(l, "created in "))
        .collect();
    assert!(started.contains(&"google_project.this"), "{stderr}");
    let mut started_sorted = started.clone();
    started_sorted.sort_unstable();
    let mut created_sorted = created.clone();
    created_sorted.sort_unstable();
    assert_eq!(started_sorted, created_sorted, "{stderr}");
    let state = read_state(dir.path());
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    let mut stored: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
    stored.sort_unstable();
    assert_eq!(stored, started_sorted);

    // What did not start is listed as such, and is neither in the state nor in the fake.
    let not_started: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("not started (interrupted)"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert!(!not_started.is_empty(), "{stdout}");
    assert_eq!(started.len() + not_started.len(), 7, "{stdout}");
    assert!(
        not_started.iter().all(|a| !started.contains(a)),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "{} created, 0 changed, 0 destroyed, 0 failed, 0 skipped, {} not started.",
            started.len(),
            not_started.len()
        )),
        "{stdout}"
    );
    if not_started.contains(&"google_service_account.app") {
        let accounts = fake.get("iam", &format!("v1/projects/{PROJECT}/serviceAccounts"));
        assert!(accounts.get("accounts").is_none(), "{accounts}");
    }

    // The lock was released: an apply without --lock-timeout gets it at once, and
    // it has nothing to read back, because every finished create was recorded.
    let output = command(dir.path(), &fake, &["apply", "--auto-approve"])
        .output()
        .expect("the yagura binary runs");
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("Apply complete")
            && stdout.contains(&format!("{} created, 0 changed", not_started.len())),
        "{stdout}"
    );
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("reading back"), "{stderr}");

    // Everything exists exactly once, and the state knows all of it.
    fake.assert_nothing_duplicated();
    let state = read_state(dir.path());
    assert_eq!(state.resources.len(), 7);
    assert!(state.pending.is_empty());
    let output = command(dir.path(), &fake, &["plan", "--detailed-exitcode"])
        .output()
        .expect("the yagura binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "a plan after the second apply shows no changes:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}
