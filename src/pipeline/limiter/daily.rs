//! The day's budget, where the plan has one (Free: 2,000 Medium requests a day): how many
//! requests are left, from `X-RateLimit-Remaining` on Zoom's daily-limited answers, so the
//! run stops before the limit instead of spending requests on daily 429s.
//!
//! Requests are numbered as they leave (the controller's numbers). An answer to request
//! s saying R remain was counted after s was admitted, so every request that left after
//! s may spend one more: what is left now is R − (requests sent since s). The report of
//! the latest-sent request wins (it has seen the most of the day, other apps included);
//! an older one arriving late is ignored. The header is optional: without it nothing is
//! known and nothing is held back (the daily 429 still stops the run).

/// The day's remaining requests, as last reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Daily {
    /// (request number, remaining after it, the day's limit if said)
    report: Option<(u64, u32, Option<u32>)>,
}

impl Daily {
    /// An answer to request `seq` said `remaining` (and `limit`) of the day.
    pub fn observe(&mut self, seq: u64, remaining: u32, limit: Option<u32>) {
        if self.report.is_none_or(|(s, _, _)| seq >= s) {
            self.report = Some((seq, remaining, limit));
        }
    }

    /// Requests left today once `sent` requests have been numbered, when known.
    pub fn left(&self, sent: u64) -> Option<u64> {
        self.report.map(|(seq, remaining, _)| {
            let since = sent.saturating_sub(seq.saturating_add(1));
            u64::from(remaining).saturating_sub(since)
        })
    }

    /// The day's limit, when Zoom said it.
    pub fn limit(&self) -> Option<u32> {
        self.report.and_then(|(_, _, l)| l)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn counts_down_from_the_latest_report() {
        let mut d = Daily::default();
        assert_eq!(d.left(0), None);
        // Request 0 left; its answer says 3 remain.
        d.observe(0, 3, Some(2000));
        assert_eq!(d.left(1), Some(3));
        // Requests 1 and 2 left, unanswered yet: each may spend one.
        assert_eq!(d.left(3), Some(1));
        // A late answer to an older request is ignored; request 2's answer wins.
        d.observe(2, 1, Some(2000));
        d.observe(1, 2, Some(2000));
        assert_eq!(d.left(3), Some(1));
        assert_eq!(d.left(4), Some(0));
        assert_eq!(d.left(u64::MAX), Some(0));
        assert_eq!(d.limit(), Some(2000));
    }
}
