//! The nightly job end to end (issue 22): the metrics file a Prometheus node_exporter
//! reads (`metrics`), the shipped systemd units and cron wrapper (`schedule`), and the
//! age-encrypted hand-out of generated passwords (`handout`).
//!
//! The schedules are tested as an operator would meet them: `systemd-analyze verify` on
//! the unit files as shipped, and the cron wrapper run twice in a sandbox against the
//! built-in simulator. The tools they need (systemd's `systemd-analyze`, `age`) are
//! Debian packages that `.ci/run` installs; a test finding one missing fails, never
//! skips.

use crate::util::{self, p};
use std::collections::BTreeMap;
use std::path::Path;

mod handout;
mod metrics;
mod schedule;

/// The samples of a Prometheus text file: `name{labels}` to value. Comments are checked
/// to be HELP or TYPE lines, and every sample to have a number.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (name, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        assert!(
            out.insert(name.to_string(), value).is_none(),
            "twice: {line}"
        );
    }
    out
}

/// A path under `dir`, as a command-line word.
pub fn at(dir: &Path, name: &str) -> String {
    p(&dir.join(name))
}

/// Reads a file as text.
pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
}
