//! The fake cloud's in-memory state, the seed it starts from, and the lock around it.
//!
//! One `World` holds every API's resources, because the APIs refer to each other
//! (billing and services hang off projects, policies name service accounts). Handlers
//! lock it through `Server::world`, which first finishes the operations that are due,
//! so every request sees the cloud as of the moment it arrived. Nothing awaits while
//! holding the lock.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::billing::BillingLinks;
use crate::crm::Projects;
use crate::dice::Faults;
use crate::dns::ManagedZones;
use crate::iam::ServiceAccounts;
use crate::operations::Operations;
use crate::policy::Policies;
use crate::secretmanager::Secrets;
use crate::serviceusage::Services;
use crate::spanner::SpannerInstances;
use crate::sqladmin::SqlInstances;

/// Timing knobs of the fake cloud.
pub struct Settings {
    /// How long an operation takes before it is done.
    pub operation_delay: Duration,
    /// How long a new service account or a just-enabled service stays unusable.
    pub consistency_lag: Duration,
    /// How much longer a new service account stays unknown to IAM policies (as a
    /// member, and its own policy) once reads find it.
    pub policy_lag: Duration,
    /// How long a deleted Cloud SQL instance's name stays reserved.
    pub sql_name_reuse: Duration,
}

/// What exists before the first call: organizations, folders, billing accounts, the
/// creator principal, pre-existing projects and their Cloud DNS zones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Organization ids, `123456789012` or `organizations/123456789012`.
    #[serde(default)]
    pub organizations: Vec<String>,
    /// Folder ids, `456` or `folders/456`.
    #[serde(default)]
    pub folders: Vec<String>,
    /// Billing account ids, `01ABCD-234567-89EFGH` or `billingAccounts/…`.
    #[serde(default)]
    pub billing_accounts: Vec<String>,
    /// The principal that creates projects and so becomes their owner.
    #[serde(default)]
    pub creator: Option<String>,
    /// Projects that already exist, e.g. the one holding the shared DNS zones.
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    /// Cloud DNS zones that already exist in seeded projects, e.g. the parent zone
    /// that environments delegate from.
    #[serde(default)]
    pub managed_zones: Vec<SeedManagedZone>,
    /// Service-account keys whose signed JWTs the OAuth token endpoint accepts.
    #[serde(default)]
    pub service_account_keys: Vec<SeedServiceAccountKey>,
}

/// The public half of a service-account key, as the OAuth token endpoint needs it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServiceAccountKey {
    /// The service account's email: the `iss` of the JWTs the key signs.
    pub client_email: String,
    /// The key's id (`private_key_id` in the key file, `kid` in a JWT header).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// The public key in PEM, `PUBLIC KEY` (X.509 SubjectPublicKeyInfo) or
    /// `RSA PUBLIC KEY` (PKCS #1).
    pub public_key_pem: String,
}

/// A Cloud DNS managed zone present from the start, with only its apex SOA and NS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedManagedZone {
    /// The id of a seeded project.
    pub project: String,
    /// The zone's name, e.g. `acme-example`.
    pub name: String,
    /// The zone's DNS name with its trailing dot, e.g. `acme.example.`.
    pub dns_name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A project present from the start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    pub project_id: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Billing account id the project is linked to.
    #[serde(default)]
    pub billing_account: Option<String>,
    /// Services enabled from the start, e.g. `dns.googleapis.com`.
    #[serde(default)]
    pub services: Vec<String>,
}

impl Seed {
    /// Returns the seed matching `examples/fleet/yagura.hcl`.
    pub fn fleet_default() -> Seed {
        Seed {
            organizations: vec!["123456789012".to_owned()],
            folders: Vec::new(),
            billing_accounts: vec!["01ABCD-234567-89EFGH".to_owned()],
            creator: None,
            projects: Vec::new(),
            managed_zones: Vec::new(),
            service_account_keys: Vec::new(),
        }
    }

    /// Reads a seed file.
    pub fn load(path: &Path) -> Result<Seed, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read seed file {}: {error}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|error| format!("invalid seed file {}: {error}", path.display()))
    }
}

/// The resource names the seed declares, normalised to Google's form.
pub struct Directory {
    /// `organizations/N`.
    pub organizations: Vec<String>,
    /// `folders/N`.
    pub folders: Vec<String>,
    /// `billingAccounts/XXXXXX-XXXXXX-XXXXXX`.
    pub billing_accounts: Vec<String>,
    /// The principal recorded as `roles/owner` of every project created.
    pub creator: String,
}

impl Directory {
    /// Reports whether `parent` (`organizations/N` or `folders/N`) exists.
    pub fn has_parent(&self, parent: &str) -> bool {
        self.organizations.iter().any(|org| org == parent)
            || self.folders.iter().any(|folder| folder == parent)
    }
}

fn with_prefix(prefix: &str, id: &str) -> String {
    if id.starts_with(prefix) {
        id.to_owned()
    } else {
        format!("{prefix}{id}")
    }
}

/// Every resource of the fake cloud.
pub struct World {
    /// When the current request locked the world; the clock for lags and operations.
    pub now: Instant,
    /// The same instant as wall-clock time, for `createTime` and friends.
    pub wall_now: SystemTime,
    pub settings: Settings,
    pub directory: Directory,
    pub projects: Projects,
    pub billing: BillingLinks,
    pub services: Services,
    pub service_accounts: ServiceAccounts,
    pub policies: Policies,
    pub operations: Operations,
    pub sql: SqlInstances,
    pub dns: ManagedZones,
    pub secrets: Secrets,
    pub spanner: SpannerInstances,
}

impl World {
    /// Builds the world a seed describes.
    pub fn new(
        settings: Settings,
        seed: Seed,
        failing_operations: f64,
        rng_seed: u64,
    ) -> Result<World, String> {
        let directory = Directory {
            organizations: seed
                .organizations
                .iter()
                .map(|id| with_prefix("organizations/", id))
                .collect(),
            folders: seed
                .folders
                .iter()
                .map(|id| with_prefix("folders/", id))
                .collect(),
            billing_accounts: seed
                .billing_accounts
                .iter()
                .map(|id| with_prefix("billingAccounts/", id))
                .collect(),
            creator: seed
                .creator
                .clone()
                .unwrap_or_else(|| "user:creator@example.com".to_owned()),
        };
        let mut world = World {
            now: Instant::now(),
            wall_now: SystemTime::now(),
            settings,
            directory,
            projects: Projects::default(),
            billing: BillingLinks::default(),
            services: Services::default(),
            service_accounts: ServiceAccounts::default(),
            policies: Policies::default(),
            sql: SqlInstances::default(),
            dns: ManagedZones::default(),
            secrets: Secrets::default(),
            spanner: SpannerInstances::default(),
            // A different stream from the call faults, so that one flag does not
            // shift the other's dice.
            operations: Operations::new(failing_operations, rng_seed ^ 0x5EED_0000_0000_0001),
        };
        for project in &seed.projects {
            world.seed_project(project)?;
        }
        for zone in &seed.managed_zones {
            crate::dns::seed_managed_zone(&mut world, zone)?;
        }
        Ok(world)
    }

    fn seed_project(&mut self, seed: &SeedProject) -> Result<(), String> {
        let number = crate::crm::seed_project(self, seed)?;
        if let Some(account) = &seed.billing_account {
            let account = with_prefix("billingAccounts/", account);
            if !self.directory.billing_accounts.contains(&account) {
                return Err(format!(
                    "seed project {}: billing account {account} is not in billing_accounts",
                    seed.project_id
                ));
            }
            self.billing.link(number, account);
        }
        for service in &seed.services {
            crate::serviceusage::seed_service(self, number, service)?;
        }
        Ok(())
    }
}

/// The server's shared state: the world and the fault dice.
pub struct Server {
    world: Mutex<World>,
    pub faults: Faults,
}

pub type Shared = Arc<Server>;

impl Server {
    pub fn new(world: World, faults: Faults) -> Shared {
        Arc::new(Server {
            world: Mutex::new(world),
            faults,
        })
    }

    /// Locks the world as of now, finishing the operations that are due.
    pub fn world(&self) -> MutexGuard<'_, World> {
        // A handler that panicked cannot have left a half-applied change: handlers
        // validate first and mutate last, so the state is still usable.
        let mut world = self
            .world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        world.now = Instant::now();
        world.wall_now = SystemTime::now();
        world.finish_due_operations();
        world
    }
}
