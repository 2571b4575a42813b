//! What the simulator counts: the [`Stats`] counters every handler bumps, and the body of
//! `GET /_sim/stats` that reports them with each user's change count. Tests read the
//! same counters in-process through `SimHandle::stats`, so one set of fields answers both.

use serde::Serialize;

/// Counters since the simulator started. Every field counts requests or responses of one
/// kind; `max_concurrent_puts` is the peak of password changes processed at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests to the API endpoints (password changes, settings, tokens), any answer.
    pub requests_total: u64,
    pub password_puts: u64,
    pub responses_204: u64,
    /// Changes applied, answered or not (drop-after and slow faults included).
    pub changes_applied: u64,
    pub rejected_400: u64,
    pub not_found_404: u64,
    pub unauthorized_401: u64,
    pub forbidden_403: u64,
    pub rate_limited_qps: u64,
    pub rate_limited_daily: u64,
    pub rate_limited_concurrent: u64,
    pub faults_5xx: u64,
    pub drops_before: u64,
    pub drops_after: u64,
    pub slow: u64,
    pub token_grants: u64,
    pub token_errors: u64,
    pub settings_gets: u64,
    pub max_concurrent_puts: u64,
    pub users_list_gets: u64,
    pub group_member_gets: u64,
    pub activity_gets: u64,
    /// SSO token revokes asked for (`DELETE /users/{id}/token`), any answer.
    pub token_revokes: u64,
    /// Pages asked for with an expired or unknown `next_page_token`.
    pub page_tokens_refused: u64,
    /// 429s of the Light budget (token revokes) and of the Heavy one (activity report).
    pub rate_limited_light: u64,
    pub rate_limited_heavy: u64,
    /// Requests of the other apps on the account (`neighbours`), refused ones included;
    /// they are not in `requests_total`.
    pub other_app_requests: u64,
    /// Of those, refused (per second or per day)...
    pub other_app_rate_limited: u64,
    /// ...and refused because the job took more than its share (defined in `neighbours`).
    pub other_app_rate_limited_by_job: u64,
}

/// One user's change count, as `GET /_sim/stats` lists it (no passwords there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserCount {
    pub id: String,
    pub email: String,
    pub change_count: u32,
}

/// The body of `GET /_sim/stats`: the counters, flattened, and `users`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    #[serde(flatten)]
    pub stats: Stats,
    pub users: Vec<UserCount>,
}
