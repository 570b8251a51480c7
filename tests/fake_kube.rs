//! `fake-kube` end to end: start the binary, talk to it over plain HTTP the way a
//! Kubernetes client would, and check the apiserver's shapes: server-side apply
//! and managed fields, the namespace lifecycle, quantities, validation, `Status`
//! errors, discovery, request counts, and kubectl itself.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::Answer;
use support::kube::{FakeKube, schemas_dir};

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

/// A running fake-kube and a client for it.
struct Kube {
    fake: FakeKube,
    client: reqwest::Client,
}

impl Answer {
    fn resource_version(&self) -> &str {
        self.body["metadata"]["resourceVersion"]
            .as_str()
            .expect("the object has a resourceVersion")
    }

    /// Returns the `fieldsV1` of one manager's entry, `null` when it has none.
    fn fields_of(&self, manager: &str, operation: &str) -> Value {
        self.body["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|entry| entry["manager"] == manager && entry["operation"] == operation)
            .map_or(Value::Null, |entry| entry["fieldsV1"].clone())
    }
}

impl Kube {
    fn start(args: &[&str]) -> Kube {
        // reqwest is built without a default TLS provider; it wants one even for the
        // plain HTTP used here. Installing twice fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Kube {
            fake: FakeKube::start(args),
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.fake.url()))
            .header("User-Agent", "fake-kube-test/v0.0.0 (linux/amd64)");
        if let Some(body) = body {
            request = request
                .header("Content-Type", content_type.unwrap_or("application/json"))
                .body(body.to_string());
        }
        Answer::read(request.send().await.expect("the fake answers")).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, None, Some(&body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, None, Some(&body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None, None).await
    }

    /// Server-side apply by yagura.
    async fn apply(&self, path: &str, body: Value) -> Answer {
        self.apply_as(path, "yagura", "", body).await
    }

    /// Server-side apply by `manager`; `query` is appended (`&force=true`).
    async fn apply_as(&self, path: &str, manager: &str, query: &str, body: Value) -> Answer {
        let path = format!("{path}?fieldManager={manager}{query}");
        self.call(Method::PATCH, &path, Some(APPLY), Some(&body))
            .await
    }

    /// A JSON merge patch by `manager`.
    async fn merge_patch(&self, path: &str, manager: &str, body: Value) -> Answer {
        let path = format!("{path}?fieldManager={manager}");
        self.call(Method::PATCH, &path, Some(MERGE), Some(&body))
            .await
    }

    /// Applies a namespace with labels, as yagura does, and expects success.
    async fn apply_namespace(&self, name: &str, labels: Value) -> Answer {
        let answer = self
            .apply(
                &format!("/api/v1/namespaces/{name}"),
                json!({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": name, "labels": labels}}),
            )
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
        answer
    }
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn service_account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
}

fn quota(name: &str, hard: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota",
           "metadata": {"name": name}, "spec": {"hard": hard}})
}

#[tokio::test]
async fn apply_creates_then_an_unchanged_apply_is_a_no_op() {
    let kube = Kube::start(&[]);
    let created = kube.apply_namespace("team-a", json!({"app": "a"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let namespace = &created.body;
    assert_eq!(
        namespace["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );
    assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(namespace["status"]["phase"], "Active");
    assert_eq!(namespace["metadata"]["generation"], 1);
    let uid = namespace["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36, "{uid}");
    assert!(
        namespace["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let entries = namespace["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["manager"], "yagura");
    assert_eq!(entries[0]["operation"], "Apply");
    assert_eq!(entries[0]["apiVersion"], "v1");
    assert_eq!(entries[0]["fieldsType"], "FieldsV1");
    assert_eq!(
        entries[0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:app": {}}}})
    );

    let again = kube.apply_namespace("team-a", json!({"app": "a"})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.resource_version(), created.resource_version());
    assert_eq!(again.body, created.body);

    let changed = kube.apply_namespace("team-a", json!({"app": "b"})).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.resource_version(), created.resource_version());
    assert_eq!(
        changed.body["metadata"]["uid"],
        created.body["metadata"]["uid"]
    );
}

#[tokio::test]
async fn a_field_dropped_from_an_apply_is_removed_unless_someone_else_owns_it() {
    let kube = Kube::start(&[]);
    let path = "/api/v1/namespaces/team-a/resourcequotas/q";
    kube.apply_namespace("team-a", json!({})).await;
    let first = kube
        .apply(
            path,
            quota("q", json!({"pods": "4", "secrets": "5", "configmaps": "6"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let other = kube
        .apply_as(path, "other", "", quota("q", json!({"configmaps": "6"})))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);

    let dropped = kube.apply(path, quota("q", json!({"pods": "4"}))).await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.body);
    assert_eq!(
        dropped.body["spec"]["hard"],
        json!({"pods": "4", "configmaps": "6"})
    );
    assert_eq!(dropped.body["status"]["hard"], dropped.body["spec"]["hard"]);
    assert_eq!(
        dropped.fields_of("yagura", "Apply"),
        json!({"f:spec": {"f:hard": {"f:pods": {}}}})
    );
    assert_eq!(
        dropped.fields_of("other", "Apply"),
        json!({"f:spec": {"f:hard": {"f:configmaps": {}}}})
    );
    assert_eq!(dropped.body["metadata"]["generation"], 2);
}

#[tokio::test]
async fn an_apply_conflicts_with_another_managers_field_until_forced() {
    let kube = Kube::start(&[]);
    let path = "/api/v1/namespaces/team-a";
    kube.apply_namespace("team-a", json!({"x": "1", "y": "1"}))
        .await;
    let edited = kube
        .merge_patch(
            path,
            "kubectl-edit",
            json!({"metadata": {"labels": {"x": "2"}}}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(
        edited.fields_of("kubectl-edit", "Update"),
        json!({"f:metadata": {"f:labels": {"f:x": {}}}})
    );
    assert_eq!(
        edited.fields_of("yagura", "Apply"),
        json!({"f:metadata": {"f:labels": {"f:y": {}}}})
    );

    let refused = kube
        .apply(
            path,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"x": "1", "y": "1"}}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .metadata.labels.x",
            "reason": "Conflict",
            "details": {"causes": [{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl-edit\" using v1",
                "field": ".metadata.labels.x",
            }]},
            "code": 409,
        })
    );
    let unchanged = kube.get(path).await;
    assert_eq!(unchanged.body["metadata"]["labels"]["x"], "2");

    let forced = kube
        .apply_as(
            path,
            "yagura",
            "&force=true",
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"x": "1", "y": "1"}}}),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.body);
    assert_eq!(forced.body["metadata"]["labels"]["x"], "1");
    assert_eq!(
        forced.fields_of("yagura", "Apply"),
        json!({"f:metadata": {"f:labels": {"f:x": {}, "f:y": {}}}})
    );
    assert_eq!(forced.fields_of("kubectl-edit", "Update"), Value::Null);
}

#[tokio::test]
async fn updates_record_their_manager_and_check_the_resource_version() {
    let kube = Kube::start(&[]);
    kube.apply_namespace("team-a", json!({})).await;
    let path = "/api/v1/namespaces/team-a/serviceaccounts";
    let created = kube
        .post(
            path,
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "app", "labels": {"a": "1"}}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // Without `fieldManager`, the manager is the User-Agent up to its first `/`.
    assert_eq!(
        created.fields_of("fake-kube-test", "Update"),
        json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
    let again = kube.post(path, json!({"metadata": {"name": "app"}})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["reason"], "AlreadyExists");
    assert_eq!(
        again.body["message"],
        "serviceaccounts \"app\" already exists"
    );

    let mut replacement = created.body.clone();
    replacement["metadata"]["labels"]["a"] = "2".into();
    let replaced = kube.put(&format!("{path}/app"), replacement.clone()).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["metadata"]["labels"]["a"], "2");
    let stale = kube.put(&format!("{path}/app"), replacement).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.body["reason"], "Conflict");
    assert_eq!(
        stale.body["message"],
        "Operation cannot be fulfilled on serviceaccounts \"app\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let json_patched = kube
        .call(
            Method::PATCH,
            &format!("{path}/app?fieldManager=kubectl-patch"),
            Some("application/json-patch+json"),
            Some(&json!([{"op": "add", "path": "/metadata/labels/b", "value": "3"}])),
        )
        .await;
    assert_eq!(json_patched.status, StatusCode::OK, "{}", json_patched.body);
    assert_eq!(
        json_patched.fields_of("kubectl-patch", "Update"),
        json!({"f:metadata": {"f:labels": {"f:b": {}}}})
    );

    let list = kube.get("/api/v1/serviceaccounts").await;
    assert_eq!(list.body["kind"], "ServiceAccountList");
    assert_eq!(list.body["apiVersion"], "v1");
    assert!(list.body["metadata"]["resourceVersion"].is_string());
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["metadata"]["namespace"] == "team-a")
        .map(|item| {
            assert_eq!(item["kind"], "ServiceAccount");
            assert_eq!(item["apiVersion"], "v1");
            item["metadata"]["name"].as_str().unwrap()
        })
        .collect();
    // The service account controller's `default` comes with every namespace.
    assert_eq!(names, vec!["app", "default"]);
    let selected = kube.get(&format!("{path}?labelSelector=a%3D2")).await;
    assert_eq!(selected.body["items"].as_array().unwrap().len(), 1);

    let deleted = kube.delete(&format!("{path}/app")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["kind"], "ServiceAccount");
    assert_eq!(
        kube.get(&format!("{path}/app")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        kube.delete(&format!("{path}/app")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_deleted_namespace_terminates_then_disappears() {
    let kube = Kube::start(&["--namespace-finalize-ms", "200"]);
    let path = "/api/v1/namespaces/team-a";
    kube.apply_namespace("team-a", json!({})).await;
    let quota_path = "/api/v1/namespaces/team-a/resourcequotas/q";
    let quota_created = kube
        .apply(quota_path, quota("q", json!({"pods": "1"})))
        .await;
    assert_eq!(quota_created.status, StatusCode::CREATED);

    let deleted = kube.delete(path).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["kind"], "Namespace");
    assert_eq!(deleted.body["status"]["phase"], "Terminating");
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(deleted.body["metadata"]["deletionGracePeriodSeconds"], 0);

    let terminating = kube.get(path).await;
    assert_eq!(terminating.status, StatusCode::OK);
    assert_eq!(terminating.body["status"]["phase"], "Terminating");
    assert_eq!(kube.get(quota_path).await.status, StatusCode::NOT_FOUND);

    let inside = kube
        .apply(
            "/api/v1/namespaces/team-a/serviceaccounts/app",
            service_account("app"),
        )
        .await;
    assert_eq!(inside.status, StatusCode::FORBIDDEN);
    assert_eq!(
        inside.body["message"],
        "serviceaccounts \"app\" is forbidden: unable to create new content in namespace team-a because it is being terminated"
    );
    assert_eq!(
        inside.body["details"]["causes"],
        json!([{"reason": "NamespaceTerminating", "message": "namespace team-a is being terminated",
                "field": "metadata.namespace"}])
    );
    let recreated = kube
        .post(
            "/api/v1/namespaces",
            json!({"metadata": {"name": "team-a"}}),
        )
        .await;
    assert_eq!(recreated.status, StatusCode::CONFLICT);
    assert_eq!(recreated.body["reason"], "AlreadyExists");
    assert_eq!(
        recreated.body["message"],
        "object is being deleted: namespaces \"team-a\" already exists"
    );
    let again = kube.delete(path).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"]["phase"], "Terminating");

    // The server's own timer finishes the deletion; poll it, boundedly.
    let mut gone = false;
    for _ in 0..200 {
        let answer = kube.get(path).await;
        if answer.status == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        assert_eq!(answer.body["status"]["phase"], "Terminating");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the namespace never went away");
    let fresh = kube.apply_namespace("team-a", json!({})).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_ne!(
        fresh.body["metadata"]["uid"],
        deleted.body["metadata"]["uid"]
    );
}

#[tokio::test]
async fn the_initial_namespaces_exist_and_default_may_not_be_deleted() {
    let kube = Kube::start(&[]);
    let list = kube.get("/api/v1/namespaces").await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let refused = kube.delete("/api/v1/namespaces/default").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[tokio::test]
async fn quantities_are_canonicalised() {
    let kube = Kube::start(&[]);
    kube.apply_namespace("team-a", json!({})).await;
    let answer = kube
        .apply(
            "/api/v1/namespaces/team-a/resourcequotas/q",
            quota(
                "q",
                json!({"requests.cpu": "1000m", "limits.cpu": "0.5", "pods": "1000",
                       "requests.memory": "1024Mi", "limits.memory": "2000Mi",
                       "requests.storage": "1.5Gi", "count/configmaps": "1e3"}),
            ),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(
        answer.body["spec"]["hard"],
        json!({"requests.cpu": "1", "limits.cpu": "500m", "pods": "1k",
               "requests.memory": "1Gi", "limits.memory": "2000Mi",
               "requests.storage": "1536Mi", "count/configmaps": "1e3"})
    );
    assert_eq!(answer.body["status"]["hard"], answer.body["spec"]["hard"]);
    assert_eq!(answer.body["status"]["used"]["pods"], "0");

    let limits = kube
        .apply(
            "/api/v1/namespaces/team-a/limitranges/l",
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
                   "spec": {"limits": [{"type": "Container",
                                        "default": {"cpu": "100m", "memory": "0.5Gi"},
                                        "max": {"cpu": "2000m"}}]}}),
        )
        .await;
    assert_eq!(limits.status, StatusCode::CREATED, "{}", limits.body);
    assert_eq!(
        limits.body["spec"]["limits"][0],
        json!({"type": "Container", "default": {"cpu": "100m", "memory": "512Mi"},
               "max": {"cpu": "2"}})
    );
    // `limits` is one atomic list, owned as a whole.
    assert_eq!(
        limits.fields_of("yagura", "Apply"),
        json!({"f:spec": {"f:limits": {}}})
    );

    let invalid = kube
        .apply(
            "/api/v1/namespaces/team-a/resourcequotas/bad",
            quota("bad", json!({"pods": "lots"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["reason"], "Invalid");
    assert_eq!(
        invalid.body["details"]["causes"][0]["field"],
        "spec.hard[pods]"
    );
}

#[tokio::test]
async fn a_role_binding_keeps_its_role_ref() {
    let kube = Kube::start(&[]);
    kube.apply_namespace("team-a", json!({})).await;
    let path = format!("{RBAC}/namespaces/team-a/rolebindings/readers");
    let binding = |role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "readers"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "Group", "name": "team-a"}]})
    };
    let created = kube.apply(&path, binding("view")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // A Group subject gets the RBAC group by default.
    assert_eq!(
        created.body["subjects"][0]["apiGroup"],
        "rbac.authorization.k8s.io"
    );
    assert_eq!(
        created.fields_of("yagura", "Apply"),
        json!({"f:roleRef": {}, "f:subjects": {}})
    );
    let changed = kube.apply(&path, binding("edit")).await;
    assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        changed.body["message"],
        "RoleBinding.rbac.authorization.k8s.io \"readers\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
    );
    assert_eq!(
        changed.body["details"]["group"],
        "rbac.authorization.k8s.io"
    );
    assert_eq!(changed.body["details"]["kind"], "RoleBinding");
    assert_eq!(changed.body["details"]["causes"][0]["field"], "roleRef");

    let role = kube
        .apply(
            &format!("{RBAC}/clusterroles/system:team-reader"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "system:team-reader"},
                   "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    assert_eq!(role.body["rules"][0]["apiGroups"], json!([""]));
}

#[tokio::test]
async fn writes_into_a_missing_namespace_are_404() {
    let kube = Kube::start(&[]);
    let answer = kube
        .apply(
            "/api/v1/namespaces/nowhere/serviceaccounts/app",
            service_account("app"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "namespaces \"nowhere\" not found", "reason": "NotFound",
               "details": {"name": "nowhere", "kind": "namespaces"}, "code": 404})
    );
    let missing = kube
        .get(&format!("{RBAC}/namespaces/team-a/roles/reader"))
        .await;
    assert_eq!(
        missing.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "roles.rbac.authorization.k8s.io \"reader\" not found",
               "reason": "NotFound",
               "details": {"name": "reader", "group": "rbac.authorization.k8s.io", "kind": "roles"},
               "code": 404})
    );
}

#[tokio::test]
async fn bad_names_and_mismatched_bodies_are_refused() {
    let kube = Kube::start(&[]);
    let bad = kube
        .apply("/api/v1/namespaces/Bad_Name", namespace("Bad_Name"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["reason"], "Invalid");
    assert_eq!(bad.body["details"]["name"], "Bad_Name");
    assert_eq!(bad.body["details"]["kind"], "Namespace");
    let cause = &bad.body["details"]["causes"][0];
    assert_eq!(cause["reason"], "FieldValueInvalid");
    assert_eq!(cause["field"], "metadata.name");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of")
    );
    let long = "a".repeat(64);
    let too_long = kube
        .post("/api/v1/namespaces", json!({"metadata": {"name": long}}))
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);

    let other_name = kube.apply("/api/v1/namespaces/a", namespace("b")).await;
    assert_eq!(other_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        other_name.body["message"],
        "the name of the object (b) does not match the name on the URL (a)"
    );
    let other_kind = kube
        .apply("/api/v1/namespaces/a", service_account("a"))
        .await;
    assert_eq!(other_kind.status, StatusCode::BAD_REQUEST);
    let other_version = kube
        .apply(
            "/api/v1/namespaces/a",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Namespace",
                   "metadata": {"name": "a"}}),
        )
        .await;
    assert_eq!(other_version.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        other_version.body["message"],
        "Incorrect version specified in apply patch. Specified patch version: rbac.authorization.k8s.io/v1, expected: v1"
    );
    let no_manager = kube
        .call(
            Method::PATCH,
            "/api/v1/namespaces/a",
            Some(APPLY),
            Some(&namespace("a")),
        )
        .await;
    assert_eq!(no_manager.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        no_manager.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

#[tokio::test]
async fn writes_are_checked_against_the_schemas() {
    if schemas_dir().is_none() {
        eprintln!("note: skipped, the Kubernetes schemas are missing");
        return;
    }
    let kube = Kube::start(&[]);
    kube.apply_namespace("team-a", json!({})).await;
    let answer = kube
        .apply(
            "/api/v1/namespaces/team-a/resourcequotas/q",
            quota("q", json!(["pods"])),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["reason"], "Invalid");
    assert_eq!(answer.body["details"]["causes"][0]["field"], "spec.hard");
    // Only the schema knows that `scopes` is a list.
    let scopes = kube
        .apply(
            "/api/v1/namespaces/team-a/resourcequotas/q",
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                   "spec": {"hard": {"pods": "1"}, "scopes": "Terminating"}}),
        )
        .await;
    assert_eq!(
        scopes.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        scopes.body
    );
    assert_eq!(scopes.body["details"]["causes"][0]["field"], "spec.scopes");
    assert_eq!(
        scopes.body["message"],
        "ResourceQuota \"q\" is invalid: spec.scopes: Invalid value: \"Terminating\": \"Terminating\" is not of types \"null\", \"array\""
    );
    let unknown = kube
        .post(
            "/api/v1/namespaces/team-a/serviceaccounts",
            json!({"metadata": {"name": "app"}, "automount": true}),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    assert_eq!(
        kube.get("/api/v1/namespaces/team-a/resourcequotas/q")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn dry_runs_store_nothing() {
    let kube = Kube::start(&[]);
    let answer = kube
        .apply_as(
            "/api/v1/namespaces/team-a",
            "yagura",
            "&dryRun=All",
            namespace("team-a"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["metadata"]["name"], "team-a");
    assert_eq!(
        kube.get("/api/v1/namespaces/team-a").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn discovery_describes_the_served_resources() {
    let kube = Kube::start(&[]);
    let version = kube.get("/version").await;
    assert_eq!(version.body["gitVersion"], "v1.33.0");
    assert_eq!(version.body["major"], "1");
    assert_eq!(version.body["minor"], "33");
    assert!(version.body["platform"].is_string());

    let api = kube.get("/api").await;
    assert_eq!(api.body["kind"], "APIVersions");
    assert_eq!(api.body["versions"], json!(["v1"]));
    let groups = kube.get("/apis").await;
    assert_eq!(groups.body["kind"], "APIGroupList");
    assert_eq!(
        groups.body["groups"][0]["name"],
        "rbac.authorization.k8s.io"
    );
    assert_eq!(
        groups.body["groups"][0]["preferredVersion"]["groupVersion"],
        "rbac.authorization.k8s.io/v1"
    );

    let core = kube.get("/api/v1").await;
    assert_eq!(core.body["kind"], "APIResourceList");
    assert_eq!(core.body["groupVersion"], "v1");
    let resources = core.body["resources"].as_array().unwrap();
    let find = |name: &str| {
        resources
            .iter()
            .find(|resource| resource["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
            .clone()
    };
    assert_eq!(find("namespaces")["namespaced"], false);
    assert_eq!(find("namespaces")["shortNames"], json!(["ns"]));
    assert_eq!(find("serviceaccounts")["shortNames"], json!(["sa"]));
    assert_eq!(find("serviceaccounts")["singularName"], "serviceaccount");
    assert_eq!(find("resourcequotas")["shortNames"], json!(["quota"]));
    assert_eq!(find("limitranges")["shortNames"], json!(["limits"]));
    assert_eq!(find("limitranges")["kind"], "LimitRange");
    assert!(
        find("namespaces")["verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("patch"))
    );

    let rbac = kube.get(RBAC).await;
    assert_eq!(rbac.body["groupVersion"], "rbac.authorization.k8s.io/v1");
    let names: Vec<&str> = rbac.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|resource| resource["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings"
        ]
    );

    let openapi = kube.get("/openapi/v3").await;
    let url = openapi.body["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    let document = kube.get(url).await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(
        document.body["paths"]["/api/v1/namespaces/{name}"]["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "", "version": "v1", "kind": "Namespace"})
    );
    assert_eq!(kube.get("/api/v1/pods").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_are_counted_by_endpoint() {
    let kube = Kube::start(&[]);
    kube.apply_namespace("team-a", json!({})).await;
    kube.apply_namespace("team-b", json!({})).await;
    kube.get("/api/v1/namespaces/team-a/serviceaccounts/default")
        .await;
    let counts = kube.get("/_fake/requests").await;
    assert_eq!(
        counts.body,
        json!({
            "PATCH api/v1/namespaces/{namespace}": 2,
            "GET api/v1/namespaces/{namespace}/serviceaccounts/{name}": 1,
        })
    );
    let taken = kube.delete("/_fake/requests").await;
    assert_eq!(taken.body, counts.body);
    assert_eq!(kube.get("/_fake/requests").await.body, json!({}));
}

#[tokio::test]
async fn injected_throttling_carries_retry_after() {
    let kube = Kube::start(&["--fault-rate", "1", "--faults", "429"]);
    let answer = kube.get("/api/v1/namespaces").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert_eq!(answer.body["kind"], "Status");
    assert_eq!(answer.body["reason"], "TooManyRequests");
    assert_eq!(answer.body["details"]["retryAfterSeconds"], 1);
    assert_eq!(answer.body["code"], 429);
}

#[tokio::test]
async fn a_watch_reports_changes_after_its_resource_version() {
    let kube = Kube::start(&[]);
    let list = kube.get("/api/v1/namespaces").await;
    let since = list.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    kube.apply_namespace("team-a", json!({})).await;
    let mut response = kube
        .client
        .get(format!(
            "{}/api/v1/namespaces?watch=true&resourceVersion={since}",
            kube.fake.url()
        ))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status(), StatusCode::OK);
    // The event happened before the watch started; it comes from the history.
    let mut text = String::new();
    while !text.contains('\n') {
        let chunk = response
            .chunk()
            .await
            .expect("the watch streams")
            .expect("the watch stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event: Value = serde_json::from_str(text.lines().next().unwrap()).expect("an event");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "team-a");
    assert_eq!(event["object"]["kind"], "Namespace");
}

/// Finds kubectl: `/usr/bin/kubectl` (the dispatcher that picks a version by the
/// server's) or the first on PATH. On CI its absence fails the test.
fn kubectl() -> Option<std::path::PathBuf> {
    let found = std::iter::once(std::path::PathBuf::from("/usr/bin/kubectl"))
        .chain(
            std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path)
                        .map(|dir| dir.join("kubectl"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|path| path.is_file());
    if found.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("kubectl is missing; the kubectl test must run on CI");
    }
    found
}

/// Runs kubectl against the fake with a throwaway, empty configuration and cache.
fn run_kubectl(
    kubectl: &Path,
    home: &Path,
    url: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let kubeconfig = home.join("kubeconfig");
    std::fs::write(&kubeconfig, "").expect("an empty kubeconfig");
    let mut command = Command::new(kubectl);
    command
        .args(["--server", url, "--cache-dir"])
        .arg(home.join("cache"))
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kubectl starts");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            std::io::Write::write_all(&mut input, text.as_bytes()).expect("kubectl reads stdin");
        }
    }
    let output = child.wait_with_output().expect("kubectl finishes");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn kubectl_manages_namespaces() {
    let Some(kubectl) = kubectl() else {
        eprintln!("note: kubectl test skipped, kubectl is not installed");
        return;
    };
    let fake = FakeKube::start(&["--namespace-finalize-ms", "50"]);
    let home = tempfile::tempdir().expect("a temporary home");
    let kubectl = |args: &[&str], stdin: Option<&str>| {
        let output = run_kubectl(&kubectl, home.path(), fake.url(), args, stdin);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let names = kubectl(&["get", "ns", "-o", "name"], None);
    assert!(
        names.lines().any(|line| line == "namespace/default"),
        "{names}"
    );
    assert_eq!(
        kubectl(&["create", "namespace", "x"], None).trim(),
        "namespace/x created"
    );
    assert_eq!(
        kubectl(&["label", "ns", "x", "a=b"], None).trim(),
        "namespace/x labeled"
    );
    let table = kubectl(&["get", "ns"], None);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("x ") && line.contains("Active")),
        "{table}"
    );

    let manifest = r#"{"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "y", "labels": {"team": "payments"}}}"#;
    assert_eq!(
        kubectl(&["apply", "--server-side", "-f", "-"], Some(manifest)).trim(),
        "namespace/y serverside-applied"
    );
    let x: Value = serde_json::from_str(&kubectl(
        &["get", "ns", "x", "-o", "json", "--show-managed-fields"],
        None,
    ))
    .expect("kubectl prints JSON");
    assert_eq!(x["metadata"]["labels"]["a"], "b");
    let managers: Vec<(&str, &str)> = x["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["manager"].as_str().unwrap(),
                entry["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        managers,
        [("kubectl-create", "Update"), ("kubectl-label", "Update")]
    );
    let y: Value = serde_json::from_str(&kubectl(
        &["get", "ns", "y", "-o", "json", "--show-managed-fields"],
        None,
    ))
    .expect("kubectl prints JSON");
    assert_eq!(y["metadata"]["labels"]["team"], "payments");
    assert_eq!(y["metadata"]["managedFields"][0]["manager"], "kubectl");
    assert_eq!(y["metadata"]["managedFields"][0]["operation"], "Apply");

    // kubectl waits for the namespace to be gone, through a watch.
    assert_eq!(
        kubectl(&["delete", "ns", "x"], None).trim(),
        "namespace \"x\" deleted"
    );
    let names = kubectl(&["get", "ns", "-o", "name"], None);
    assert!(!names.lines().any(|line| line == "namespace/x"), "{names}");
}
