//! The fault dice: which faults a fake injects, how often, and the seeded
//! generator that decides, with the command-line flags that set them.
//!
//! A fraction of calls (`--fault-rate`) gets one of the enabled faults. The
//! decisions come from one seeded generator, so a run with `--seed-rng` replays the
//! same faults for the same request order. What a fault answers is each fake's own
//! business (its `faults.rs`); this file knows no error body and no server state,
//! so fake-kube includes it as it is.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A kind of injected fault, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// 429 Too Many Requests, with `Retry-After: 1` and the delay in the body.
    #[value(name = "429")]
    TooManyRequests,
    /// 503 Service Unavailable.
    #[value(name = "503")]
    Unavailable,
    /// The connection is closed with an RST instead of a response.
    Reset,
}

/// The flags that set a fake's latency and faults.
#[derive(Debug, clap::Args)]
pub struct FaultArgs {
    /// Delay added to every call, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,

    /// Fraction of calls (0 to 1) that get one of the faults named by --faults
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    fault_rate: f64,

    /// Faults to inject, comma-separated: 429, 503, reset [default: 429,503,reset]
    #[arg(
        long,
        value_name = "KIND",
        value_delimiter = ',',
        default_values = ["429", "503", "reset"],
        hide_default_value = true
    )]
    faults: Vec<FaultKind>,
}

impl FaultArgs {
    /// Returns the dice these flags ask for, seeded with `rng_seed`.
    pub fn into_faults(self, rng_seed: u64) -> Faults {
        Faults::new(
            Duration::from_millis(self.latency_ms),
            self.fault_rate,
            self.faults,
            rng_seed,
        )
    }
}

/// Parses a fraction between 0 and 1, as the flags that take one want.
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    let fraction: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!("{fraction} is not between 0 and 1"))
    }
}

/// Returns the seed given by `--seed-rng`, or one taken from the clock.
pub fn rng_seed(seed_rng: Option<u64>) -> u64 {
    seed_rng.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
    })
}

/// How slow calls are, how often they fail, and how.
pub struct Faults {
    pub latency: Duration,
    pub rate: f64,
    pub kinds: Vec<FaultKind>,
    rng: Mutex<SplitMix64>,
}

impl Faults {
    pub fn new(latency: Duration, rate: f64, kinds: Vec<FaultKind>, rng_seed: u64) -> Faults {
        Faults {
            latency,
            rate,
            kinds,
            rng: Mutex::new(SplitMix64(rng_seed)),
        }
    }

    /// Decides whether the call about to be served fails, and how.
    pub fn pick_fault(&self) -> Option<FaultKind> {
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if rng.next_f64() >= self.rate {
            return None;
        }
        let index = rng.next_u64() % self.kinds.len() as u64;
        self.kinds.get(index as usize).copied()
    }
}

/// Sebastiano Vigna's SplitMix64: tiny, seedable and good enough for fault dice.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rate: f64, kinds: Vec<FaultKind>, seed: u64) -> Faults {
        Faults::new(Duration::ZERO, rate, kinds, seed)
    }

    #[test]
    fn rate_zero_never_faults() {
        let faults = faults(0.0, vec![FaultKind::Unavailable], 1);
        assert!((0..100).all(|_| faults.pick_fault().is_none()));
    }

    #[test]
    fn rate_one_always_faults() {
        let faults = faults(1.0, vec![FaultKind::TooManyRequests], 1);
        assert!((0..100).all(|_| faults.pick_fault() == Some(FaultKind::TooManyRequests)));
    }

    #[test]
    fn same_seed_same_faults() {
        let kinds = vec![FaultKind::TooManyRequests, FaultKind::Unavailable];
        let first = faults(0.5, kinds.clone(), 7);
        let second = faults(0.5, kinds, 7);
        let draws = |faults: &Faults| (0..50).map(|_| faults.pick_fault()).collect::<Vec<_>>();
        assert_eq!(draws(&first), draws(&second));
    }

    #[test]
    fn fractions_are_numbers_from_zero_to_one() {
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        assert_eq!(
            parse_fraction("1.5"),
            Err("1.5 is not between 0 and 1".to_owned())
        );
        assert_eq!(
            parse_fraction("half"),
            Err("'half' is not a number".to_owned())
        );
    }
}
