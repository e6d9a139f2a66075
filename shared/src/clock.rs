//! The only source of "now" in the project.
//!
//! Production reads the system clock. When `TEST_CLOCK_FILE` is set, the
//! offset written in that file (seconds, may be fractional or negative) is
//! added; the file is re-read on every call, so a test moves time for running
//! processes by rewriting it. A missing or empty file means no offset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

/// Tells the time; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_file: Option<Arc<Path>>,
}

impl Clock {
    /// The real time.
    pub fn system() -> Self {
        Self { offset_file: None }
    }

    /// The real time plus the offset written in `file`.
    pub fn with_offset_file(file: impl Into<PathBuf>) -> Self {
        Self {
            offset_file: Some(Arc::from(file.into())),
        }
    }

    /// From the settings: a test clock when `TEST_CLOCK_FILE` is set.
    pub fn from_setting(test_clock_file: Option<&Path>) -> Self {
        test_clock_file.map_or_else(Self::system, Self::with_offset_file)
    }

    /// Whether this clock can be moved by a test (shown in `/health`).
    pub fn is_test_clock(&self) -> bool {
        self.offset_file.is_some()
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the one place that reads the system time"
        )]
        let system = Utc::now();
        system + self.offset()
    }

    /// The offset a test has set; zero for the system clock.
    pub fn offset(&self) -> TimeDelta {
        let Some(file) = &self.offset_file else {
            return TimeDelta::zero();
        };
        match std::fs::read_to_string(file) {
            Ok(text) => parse_offset(&text).unwrap_or_else(|| {
                tracing::warn!(file = %file.display(), "test clock file does not hold seconds; ignoring it");
                TimeDelta::zero()
            }),
            Err(_) => TimeDelta::zero(),
        }
    }
}

/// Writes an offset for a [`Clock`] reading `file` (used by tests and tools).
pub fn write_offset(file: &Path, offset: TimeDelta) -> std::io::Result<()> {
    let seconds = offset.num_milliseconds() as f64 / 1000.0;
    // Write then rename, so a reader never sees a half-written file.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{seconds}\n"))?;
    std::fs::rename(tmp, file)
}

fn parse_offset(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    if text.is_empty() {
        return Some(TimeDelta::zero());
    }
    let seconds: f64 = text.parse().ok()?;
    if !seconds.is_finite() || seconds.abs() > 100.0 * 365.0 * 86_400.0 {
        return None;
    }
    Some(TimeDelta::microseconds((seconds * 1_000_000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_has_no_offset() {
        let clock = Clock::system();
        assert!(!clock.is_test_clock());
        assert_eq!(clock.offset(), TimeDelta::zero());
    }

    #[test]
    fn test_clock_follows_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clock");
        let clock = Clock::with_offset_file(&file);
        assert!(clock.is_test_clock());
        assert_eq!(clock.offset(), TimeDelta::zero(), "missing file");

        write_offset(&file, TimeDelta::days(3)).unwrap();
        assert_eq!(clock.offset(), TimeDelta::days(3));
        let before = Clock::system().now();
        let moved = clock.now();
        assert!(moved - before >= TimeDelta::days(3));
        assert!(moved - before < TimeDelta::days(3) + TimeDelta::minutes(1));

        std::fs::write(&file, "-90.5").unwrap();
        assert_eq!(clock.offset(), TimeDelta::milliseconds(-90_500));
        std::fs::write(&file, "tomorrow").unwrap();
        assert_eq!(clock.offset(), TimeDelta::zero(), "garbage is ignored");
        std::fs::write(&file, "inf").unwrap();
        assert_eq!(clock.offset(), TimeDelta::zero());
    }
}
