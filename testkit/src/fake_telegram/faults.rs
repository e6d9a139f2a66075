//! Injected failures: one-shot faults for the next matching requests and a
//! seeded "chaos" mode that fails counted calls at a rate.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The next `times` bot requests for `method` (any method when `None`;
/// names compare case-insensitively) get `kind` instead of normal handling.
///
/// As JSON (control API): `{"method":"sendMessage","kind":{"status":502},"times":2}`,
/// kinds `{"status":503}`, `{"delay_ms":1500}`,
/// `{"too_many_requests":{"retry_after":3}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Bot API method the fault applies to; `None` for every method.
    #[serde(default)]
    pub method: Option<String>,
    /// What happens to a matching request.
    pub kind: FaultKind,
    /// How many matching requests get it.
    #[serde(default = "one")]
    pub times: usize,
}

fn one() -> usize {
    1
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer this HTTP status (500, 502, 503, ...) with Telegram's error
    /// body; the request has no effect.
    Status(u16),
    /// Wait this long, then handle the request normally.
    #[serde(rename = "delay_ms", with = "millis")]
    Delay(Duration),
    /// Answer 429 with this `retry_after`; the request has no effect.
    TooManyRequests {
        /// Seconds the client is told to wait.
        retry_after: u32,
    },
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

impl Fault {
    /// A fault for every method.
    pub fn any(kind: FaultKind, times: usize) -> Self {
        Self {
            method: None,
            kind,
            times,
        }
    }

    /// A fault for one method.
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
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
    }
}

/// Faults waiting for their requests, in the order they were injected.
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
        let kind = fault.kind.clone();
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }
}

/// Random failures of counted calls: each fails with probability
/// `error_rate` (a 5xx or a 429 with `retry_after` 1), but never more than
/// `max_consecutive` times in a row for one chat. The same seed and the same
/// sequence of calls give the same failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chaos {
    /// Seed of the pseudo-random sequence.
    pub seed: u64,
    /// Probability in 0..=1 that a counted call fails.
    pub error_rate: f64,
    /// Longest run of failures for one chat.
    pub max_consecutive: usize,
}

/// The failure chaos picked for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChaosFailure {
    Status(u16),
    TooManyRequests,
}

/// Chaos settings plus the generator and per-chat failure runs.
#[derive(Debug)]
pub(crate) struct ChaosState {
    settings: Chaos,
    rng: SplitMix64,
    runs: HashMap<i64, usize>,
}

impl ChaosState {
    pub(crate) fn new(settings: Chaos) -> Self {
        Self {
            rng: SplitMix64(settings.seed),
            settings,
            runs: HashMap::new(),
        }
    }

    /// Decides the fate of one counted call into `chat`.
    pub(crate) fn roll(&mut self, chat: i64) -> Option<ChaosFailure> {
        // Always draw both numbers so the sequence depends only on the calls.
        let fail = self.rng.next_f64() < self.settings.error_rate;
        let pick = self.rng.next_u64() % 4;
        let run = self.runs.entry(chat).or_default();
        if fail && *run < self.settings.max_consecutive {
            *run += 1;
            Some(match pick {
                0 => ChaosFailure::Status(500),
                1 => ChaosFailure::Status(502),
                2 => ChaosFailure::Status(503),
                _ => ChaosFailure::TooManyRequests,
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
