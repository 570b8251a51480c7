//! Malformed input never panics: every truncation and a few corruptions of
//! the example fleet's files are loaded and planned, and must end in
//! diagnostics or a plan.

use std::path::Path;

use yagura::addr::InstanceAddr;
use yagura::config::Repo;
use yagura::plan::plan_instance;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn load_and_plan(root: &Path) {
    let (repo, _) = Repo::load(root);
    for service in &repo.services {
        for env in &service.environments {
            let _ = plan_instance(&repo, &InstanceAddr::new(&service.name, env), None);
        }
    }
}

#[test]
fn truncated_and_corrupted_specs_never_panic() {
    let fleet = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&fleet, dir.path());
    let files = [
        "yagura.hcl",
        "services/ledger/main.hcl",
        "modules/microservice/main.hcl",
        "modules/cloudsql/variables.hcl",
    ];
    for file in files {
        let path = dir.path().join(file);
        let original = std::fs::read_to_string(&path).expect("read the file");
        let bytes = original.as_bytes();
        let step = (bytes.len() / 60).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let Ok(prefix) = std::str::from_utf8(&bytes[..cut]) else {
                continue;
            };
            std::fs::write(&path, prefix).expect("write the truncation");
            load_and_plan(dir.path());
        }
        for (from, to) in [
            ("=", "=="),
            ("{", ""),
            ("}", ""),
            ("\"", ""),
            ("[", "("),
            (".", ".."),
        ] {
            std::fs::write(&path, original.replacen(from, to, 3)).expect("write the corruption");
            load_and_plan(dir.path());
        }
        std::fs::write(&path, &original).expect("restore the file");
    }
}

#[test]
fn truncated_state_documents_are_errors_not_panics() {
    let doc = serde_json::json!({
        "format_version": 1, "serial": 4, "lineage": "l", "instance": {"service": "s", "env": "e"},
        "resources": [{"address": "random_id.x", "type": "random_id", "attributes": {"byte_length": 2, "hex": "01ff"},
                       "sensitive_attributes": [["result"]], "dependencies": ["google_project.p"]}]
    })
    .to_string();
    for cut in 0..doc.len() {
        let result = yagura::state::StateDocument::from_json(&doc[..cut]);
        assert!(result.is_err(), "a truncation at {cut} was accepted");
    }
    assert!(yagura::state::StateDocument::from_json(&doc).is_ok());
}
