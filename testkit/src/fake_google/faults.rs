//! Injected failures: scripted faults for the next matching calls and a
//! seeded random mode, so retries, backoff and repeat-safety of the Google
//! client can be tested reproducibly.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The next `times` calls of `method` get `kind` instead of normal
/// handling. `method` is a method id (`calendar.events.insert`,
/// `oauth.token`, `oauth.revoke`, `oauth.userinfo`) or a prefix ending in
/// `.` (`calendar.`); `None` matches every API and OAuth call (never the
/// consent screen nor the control API).
///
/// As JSON: `{"method":"calendar.events.insert","kind":{"status":503},"times":2}`;
/// kinds `{"status":500}`, `"too_many_requests"`, `"rate_limit_forbidden"`,
/// `{"timeout":{"hold_ms":5000,"applied":true}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Method id or prefix the fault applies to; `None` for every call.
    #[serde(default)]
    pub method: Option<String>,
    /// What happens to a matching call.
    pub kind: FaultKind,
    /// How many matching calls get it.
    #[serde(default = "one")]
    pub times: usize,
}

fn one() -> usize {
    1
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// This HTTP status with Google's error body (`backendError` for 5xx);
    /// the call has no effect.
    Status(u16),
    /// 429 `rateLimitExceeded`; no effect.
    TooManyRequests,
    /// 403 `rateLimitExceeded` (how the Calendar API often says 429); no
    /// effect.
    RateLimitForbidden,
    /// The answer is held for `hold_ms` (longer than the client waits),
    /// then 503 if anyone still listens. With `applied` the call took
    /// effect before the answer was lost — the case that makes retries
    /// meet their own earlier success (409 on a client-chosen id).
    Timeout {
        /// How long the answer is held.
        hold_ms: u64,
        /// Whether the call took effect.
        applied: bool,
    },
}

impl FaultKind {
    /// How long a timeout holds its answer.
    pub(crate) fn hold(self) -> Option<(Duration, bool)> {
        match self {
            Self::Timeout { hold_ms, applied } => Some((Duration::from_millis(hold_ms), applied)),
            _ => None,
        }
    }
}

impl Fault {
    /// A fault for every call.
    pub fn any(kind: FaultKind, times: usize) -> Self {
        Self {
            method: None,
            kind,
            times,
        }
    }

    /// A fault for one method id (or prefix ending in `.`).
    pub fn on(method: &str, kind: FaultKind, times: usize) -> Self {
        Self {
            method: Some(method.to_owned()),
            kind,
            times,
        }
    }

    fn matches(&self, method: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|wanted| method_matches(wanted, method))
    }
}

/// `wanted` is the method id itself or a prefix ending in `.`.
fn method_matches(wanted: &str, method: &str) -> bool {
    wanted == method || (wanted.ends_with('.') && method.starts_with(wanted))
}

/// Faults waiting for their calls, in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    faults: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    /// Uses up one application of the first fault matching `method`.
    pub(crate) fn take(&mut self, method: &str) -> Option<FaultKind> {
        let index = self.faults.iter().position(|f| f.matches(method))?;
        let fault = &mut self.faults[index];
        fault.times -= 1;
        let kind = fault.kind;
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }
}

/// Random failures: each matching call fails with probability
/// `error_rate` — 429, 403 `rateLimitExceeded`, 500, 503, or a timeout
/// (applied or not) — but one request key (method + path + client-chosen
/// id) never fails more than `max_consecutive` times in a row, so a client
/// that retries enough always gets through. The same seed and the same
/// sequence of calls give the same failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    /// Seed of the pseudo-random sequence.
    pub seed: u64,
    /// Probability in 0..=1 that a call fails.
    pub error_rate: f64,
    /// Longest run of failures for one request key.
    pub max_consecutive: usize,
    /// Method ids or prefixes (ending in `.`) chaos applies to; `calendar.`
    /// by default.
    #[serde(default = "calendar_methods")]
    pub methods: Vec<String>,
    /// How long a timeout holds its answer (should exceed the client's
    /// timeout); 0 leaves timeouts out of the mix.
    #[serde(default)]
    pub timeout_ms: u64,
}

fn calendar_methods() -> Vec<String> {
    vec!["calendar.".to_owned()]
}

impl Chaos {
    /// Calendar calls fail at `error_rate`, at most `max_consecutive` in a
    /// row per request key, without timeouts.
    pub fn new(seed: u64, error_rate: f64, max_consecutive: usize) -> Self {
        Self {
            seed,
            error_rate,
            max_consecutive,
            methods: calendar_methods(),
            timeout_ms: 0,
        }
    }

    /// Also fails some calls by holding their answer this long.
    pub fn with_timeouts(mut self, hold: Duration) -> Self {
        self.timeout_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Other methods (ids or prefixes ending in `.`).
    pub fn on_methods(mut self, methods: &[&str]) -> Self {
        self.methods = methods.iter().map(|&method| method.to_owned()).collect();
        self
    }
}

/// Chaos settings plus the generator and per-key failure runs.
#[derive(Debug)]
pub(crate) struct ChaosState {
    settings: Chaos,
    rng: SplitMix64,
    runs: HashMap<String, usize>,
}

impl ChaosState {
    pub(crate) fn new(settings: Chaos) -> Self {
        Self {
            rng: SplitMix64(settings.seed),
            settings,
            runs: HashMap::new(),
        }
    }

    /// Decides the fate of one call of `method` with request key `key`.
    pub(crate) fn roll(&mut self, method: &str, key: &str) -> Option<FaultKind> {
        if !self
            .settings
            .methods
            .iter()
            .any(|wanted| method_matches(wanted, method))
        {
            return None;
        }
        // Always draw both numbers so the sequence depends only on the calls.
        let fail = self.rng.next_f64() < self.settings.error_rate;
        let kinds = if self.settings.timeout_ms > 0 { 6 } else { 4 };
        let pick = self.rng.next_u64() % kinds;
        let run = self.runs.entry(key.to_owned()).or_default();
        if fail && *run < self.settings.max_consecutive {
            *run += 1;
            Some(match pick {
                0 => FaultKind::TooManyRequests,
                1 => FaultKind::RateLimitForbidden,
                2 => FaultKind::Status(500),
                3 => FaultKind::Status(503),
                other => FaultKind::Timeout {
                    hold_ms: self.settings.timeout_ms,
                    applied: other == 5,
                },
            })
        } else {
            *run = 0;
            None
        }
    }
}

/// A tiny deterministic generator (SplitMix64); no crate needed.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0.0..1.0`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
