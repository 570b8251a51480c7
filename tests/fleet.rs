//! The example fleet end to end: applied against fake-gcp and one fake-kube per
//! cluster, planned again with nothing to do, changed in place, and a service
//! removed and destroyed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value as Json;
use support::kube::FakeKube;
use support::{Fake, text, yagura_command};
use yagura::addr::InstanceAddr;
use yagura::state::Backend;
use yagura::state::local::LocalBackend;

fn example_fleet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet")
}

/// A scratch copy of the example fleet, without any state.
fn fleet_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_tree(&example_fleet(), dir.path());
    let _ = std::fs::remove_dir_all(dir.path().join("state"));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copied");
        }
    }
}

struct World {
    gcp: Fake,
    dev: FakeKube,
    prod: FakeKube,
}

impl World {
    fn start() -> World {
        let seed: Json = serde_json::from_str(
            &std::fs::read_to_string(example_fleet().join("fake-seed.json")).expect("the seed"),
        )
        .expect("valid JSON");
        World {
            gcp: Fake::start_seeded(&seed, &[]),
            dev: FakeKube::start(&["--namespace-finalize-ms", "20"]),
            prod: FakeKube::start(&["--namespace-finalize-ms", "20"]),
        }
    }

    fn yagura(&self, dir: &Path, args: &[&str]) -> Output {
        yagura_command(dir, &self.gcp, args)
            .env("YAGURA_CLUSTER_ENDPOINT_DEV", self.dev.url())
            .env("YAGURA_CLUSTER_ENDPOINT_PROD", self.prod.url())
            .output()
            .expect("yagura runs")
    }
}

fn say(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The summary line's figures: created, changed, destroyed.
fn applied(out: &Output) -> (usize, usize, usize) {
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Apply complete in "))
        .unwrap_or_else(|| panic!("no summary in:\n{}", say(out)));
    let number = |word: &str| -> usize {
        line.split(", ")
            .map(|part| part.rsplit(": ").next().expect("a part"))
            .find_map(|part| part.strip_suffix(word))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{word} in {line}"))
    };
    (number(" created"), number(" changed"), number(" destroyed"))
}

/// Status and body of a GET on a fake.
fn get(url: &str) -> (u16, Json) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    support::runtime().block_on(async {
        let response = reqwest::get(url).await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Json::Null))
    })
}

#[test]
fn the_example_fleet_applies_converges_changes_and_destroys() {
    let world = World::start();
    let repo = fleet_copy();
    let dir = repo.path();

    let planned = world.yagura(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(planned.status.code(), Some(2), "{}", say(&planned));

    let out = world.yagura(dir, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", say(&out));
    let (added, changed, destroyed) = applied(&out);
    assert_eq!((changed, destroyed), (0, 0));
    assert!(added > 250, "{added} resources added");

    // Every service's namespace exists in its environment's cluster, with RBAC.
    for service in ["catalog", "checkout", "ledger", "notifications", "payment"] {
        for cluster in [&world.dev, &world.prod] {
            let (_, namespaces) = get(&format!("{}/api/v1/namespaces", cluster.url()));
            let names: Vec<&str> = namespaces["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|n| n["metadata"]["name"].as_str())
                .collect();
            assert!(
                names.iter().any(|n| n.starts_with(service)),
                "{service} in {names:?}"
            );
        }
    }
    let search_lab = format!("{}/api/v1/namespaces/search-lab", world.dev.url());
    assert_eq!(get(&search_lab).0, 200);
    assert_eq!(
        get(&format!(
            "{}/api/v1/namespaces/search-lab",
            world.prod.url()
        ))
        .0,
        404,
        "search-lab runs in development only"
    );

    // Nothing left to do.
    let again = world.yagura(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", say(&again));
    let drift = world.yagura(dir, &["drift"]);
    assert_eq!(drift.status.code(), Some(0), "{}", say(&drift));

    // A quota and a label change apply in place.
    let spec = dir.join("services/search-lab/main.hcl");
    let text_before = std::fs::read_to_string(&spec).expect("the spec");
    let edited = text_before
        .replace(
            r#""pods"             = "100""#,
            r#""pods"             = "120""#,
        )
        .replace(r#"lifetime = "experimental""#, r#"lifetime = "trial""#);
    assert_ne!(edited, text_before);
    std::fs::write(&spec, edited).expect("edited");
    let out = world.yagura(dir, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", say(&out));
    let (added, changed, destroyed) = applied(&out);
    assert_eq!((added, destroyed), (0, 0), "{}", say(&out));
    assert!(changed >= 2, "{}", say(&out));
    let (_, quota) = get(&format!(
        "{}/api/v1/namespaces/search-lab/resourcequotas",
        world.dev.url()
    ));
    assert_eq!(quota["items"][0]["spec"]["hard"]["pods"], "120");
    let again = world.yagura(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", say(&again));

    // A service removed from the repo is destroyed, namespace and project alike.
    let stored = support::runtime()
        .block_on(
            LocalBackend::new(dir.join("state"))
                .read(&InstanceAddr::new("search-lab", "development")),
        )
        .expect("readable")
        .expect("stored");
    std::fs::remove_dir_all(dir.join("services/search-lab")).expect("removed");
    let out = world.yagura(dir, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", say(&out));
    let (added, changed, destroyed) = applied(&out);
    assert_eq!((added, changed), (0, 0), "{}", say(&out));
    assert_eq!(destroyed, stored.resources.len(), "{}", say(&out));
    assert_eq!(get(&search_lab).0, 404);
    let listed = world.yagura(dir, &["state", "list"]);
    assert!(
        !text(&listed.stdout).contains("search-lab"),
        "{}",
        say(&listed)
    );
    let again = world.yagura(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", say(&again));
}
