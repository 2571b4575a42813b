//! The directory endpoints incident containment needs, as Zoom serves them:
//! `GET /v2/users` and `GET /v2/groups/{groupId}/members` (Medium label, paged),
//! `GET /v2/report/activities` (Heavy label, paged, refused 403/4700 when the simulator
//! is told the report scope is not granted), and `DELETE /v2/users/{userId}/token`
//! (Light label, its own budget: a revoke never spends a password change's allowance).
//!
//! Each page is computed from the account as it is when the page is asked for, and a
//! `next_page_token` fixes only the query and the offset (see `directory`), as a cursor
//! over a live directory does.

// A refusal is the response itself, built where the reason is known: the axum idiom,
// and no hot path here to make its size matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account::Role;
use super::directory::{self, Listing, PageAt, Status, EXPIRED_TOKEN_MESSAGE};
use super::lock::LockRecover;
use super::state::{zoom_error, Sim};
use crate::vocab::rfc3339;

const DAY: Duration = Duration::from_secs(86_400);
/// The longest span one activity report covers (Zoom: one month per request).
const MAX_REPORT_DAYS: u64 = 31;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    role_id: Option<String>,
    page_size: Option<String>,
    next_page_token: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn invalid(message: &str) -> Response {
    zoom_error(StatusCode::BAD_REQUEST, 300, message)
}

/// Zoom's role IDs of the built-in roles.
fn role_id(role: Role) -> &'static str {
    match role {
        Role::Owner => "0",
        Role::Admin => "1",
        Role::Member => "2",
    }
}

/// Where this request's page starts: the token's cursor, or `first` for a first page.
fn start(
    sim: &Sim,
    q: &ListQuery,
    first: impl FnOnce() -> Result<Listing, Response>,
) -> Result<(PageAt, usize), Response> {
    let Some(size) = directory::page_size(q.page_size.as_deref()) else {
        return Err(invalid("Invalid field: page_size."));
    };
    match q.next_page_token.as_deref().map(str::trim) {
        Some(token) if !token.is_empty() => {
            let at = sim
                .pages
                .locked()
                .resume(token, sim.clock.now(), &sim.config);
            match at {
                Some(at) => Ok((at, size)),
                None => {
                    sim.count(|s| s.page_tokens_refused += 1);
                    Err(invalid(EXPIRED_TOKEN_MESSAGE))
                }
            }
        }
        _ => Ok((
            PageAt {
                listing: first()?,
                offset: 0,
            },
            size,
        )),
    }
}

/// Every record of `listing`, in the order pages serve them.
fn records(sim: &Sim, listing: &Listing) -> Vec<Value> {
    let account = sim.account.locked();
    match listing {
        Listing::Users { status, role_id: r } => account
            .entries()
            .filter(|(_, _, role, p)| {
                p.status == *status && r.as_deref().is_none_or(|r| r == role_id(*role))
            })
            .map(|(id, email, role, p)| {
                let mut user = json!({
                    "id": id, "email": email, "type": p.user_type,
                    "status": p.status.as_str(), "role_id": role_id(role),
                    "dept": p.dept, "login_types": p.login_types, "group_ids": p.groups,
                });
                if let Some(t) = p.last_login {
                    user["last_login_time"] = json!(rfc3339(t));
                }
                user
            })
            .collect(),
        Listing::Members { group } => account
            .entries()
            .filter(|(_, _, _, p)| p.groups.contains(group))
            .map(|(id, email, _, p)| {
                json!({"id": id, "email": email, "type": p.user_type,
                       "primary_group": p.groups.first() == Some(group)})
            })
            .collect(),
        Listing::Activities { from, to } => {
            let end = to.checked_add(DAY).unwrap_or(*to);
            let mut logs: Vec<(SystemTime, Value)> = Vec::new();
            for (_, email, _, p) in account.entries() {
                let signed_in = p.last_login.map(|t| (t, "Sign in", "Browser"));
                let signed_out = p.revoked_at.iter().map(|t| (*t, "Sign out", "API"));
                for (at, kind, client) in signed_in.into_iter().chain(signed_out) {
                    if at >= *from && at < end {
                        logs.push((
                            at,
                            json!({"email": email, "time": rfc3339(at),
                            "type": kind, "ip_address": "192.0.2.10",
                            "client_type": client, "version": "6.2.0"}),
                        ));
                    }
                }
            }
            // Newest first, as Zoom's report lists them.
            logs.sort_by_key(|l| std::cmp::Reverse(l.0));
            logs.into_iter().map(|(_, v)| v).collect()
        }
    }
}

/// The page at `at` of `size` records under `key`, with Zoom's paging fields.
fn page(sim: &Sim, at: PageAt, size: usize, key: &str, extra: Value) -> Value {
    let all = records(sim, &at.listing);
    let total = all.len();
    let end = at.offset.saturating_add(size).min(total);
    let items: Vec<Value> = all
        .into_iter()
        .skip(at.offset)
        .take(end.saturating_sub(at.offset))
        .collect();
    let next = if end < total {
        sim.pages.locked().issue(at.listing, end, sim.clock.now())
    } else {
        String::new()
    };
    let mut body = json!({
        "page_count": total.div_ceil(size), "page_number": at.offset / size + 1,
        "page_size": size, "total_records": total, "next_page_token": next,
    });
    body[key] = Value::Array(items);
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

/// `GET /v2/users`.
pub(super) async fn list_users(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.users_list_gets += 1;
    });
    let admitted = match sim.gate(&headers) {
        Ok(a) => a,
        Err(gate) => return sim.refusal(gate),
    };
    let first = || {
        // Zoom lists active users when no status is given.
        let status = match q.status.as_deref() {
            None => Status::Active,
            Some(s) => Status::parse(s).ok_or_else(|| invalid("Invalid field: status."))?,
        };
        let role_id = q.role_id.clone().filter(|r| !r.trim().is_empty());
        Ok(Listing::Users { status, role_id })
    };
    match start(&sim, &q, first) {
        Ok((at, size)) => (
            admitted.headers(),
            Json(page(&sim, at, size, "users", json!({}))),
        )
            .into_response(),
        Err(refused) => refused,
    }
}

/// `GET /v2/groups/{groupId}/members`.
pub(super) async fn list_members(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(group): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.group_member_gets += 1;
    });
    let admitted = match sim.gate(&headers) {
        Ok(a) => a,
        Err(gate) => return sim.refusal(gate),
    };
    let first = || {
        let known = sim
            .account
            .locked()
            .entries()
            .any(|(_, _, _, p)| p.groups.contains(&group));
        if !known {
            let message = format!("Group does not exist: {group}.");
            return Err(zoom_error(StatusCode::NOT_FOUND, 4130, &message));
        }
        Ok(Listing::Members {
            group: group.clone(),
        })
    };
    match start(&sim, &q, first) {
        Ok((at, size)) => (
            admitted.headers(),
            Json(page(&sim, at, size, "members", json!({}))),
        )
            .into_response(),
        Err(refused) => refused,
    }
}

/// `GET /v2/report/activities?from=yyyy-mm-dd&to=yyyy-mm-dd`.
pub(super) async fn list_activities(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.activity_gets += 1;
    });
    let admitted = match sim.gate_on(&headers, &sim.heavy) {
        Ok(a) => a,
        Err(gate) => return sim.refusal(gate),
    };
    if sim.config.activities_forbidden {
        sim.count(|s| s.forbidden_403 += 1);
        let message = "Invalid access token, does not contain scopes:[report:read:admin].";
        return zoom_error(StatusCode::FORBIDDEN, 4700, message);
    }
    let first = || {
        let day = |v: &Option<String>| v.as_deref().and_then(directory::parse_day);
        let (Some(from), Some(to)) = (day(&q.from), day(&q.to)) else {
            return Err(invalid(
                "Invalid field: from and to must be dates (yyyy-mm-dd).",
            ));
        };
        let span = to
            .duration_since(from)
            .map_err(|_| invalid("from must not be after to."))?;
        if span > DAY * MAX_REPORT_DAYS as u32 {
            return Err(invalid("The date range must be within one month."));
        }
        Ok(Listing::Activities { from, to })
    };
    match start(&sim, &q, first) {
        Ok((at, size)) => {
            let dates = match &at.listing {
                Listing::Activities { from, to } => {
                    json!({"from": rfc3339(*from)[..10], "to": rfc3339(*to)[..10]})
                }
                _ => json!({}),
            };
            let body = page(&sim, at, size, "activity_logs", dates);
            (admitted.headers(), Json(body)).into_response()
        }
        Err(refused) => refused,
    }
}

/// `DELETE /v2/users/{userId}/token`: revokes the user's SSO token (Light label).
pub(super) async fn revoke_token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.token_revokes += 1;
    });
    let admitted = match sim.gate_on(&headers, &sim.light) {
        Ok(a) => a,
        Err(gate) => return sim.refusal(gate),
    };
    let now = sim.clock.now();
    let mut account = sim.account.locked();
    let Some(idx) = account.find(&user_id) else {
        drop(account);
        sim.count(|s| s.not_found_404 += 1);
        let message = format!("User does not exist: {user_id}.");
        return (
            admitted.headers(),
            zoom_error(StatusCode::NOT_FOUND, 1001, &message),
        )
            .into_response();
    };
    account.revoke_token(idx, now);
    drop(account);
    sim.count(|s| s.responses_204 += 1);
    (StatusCode::NO_CONTENT, admitted.headers()).into_response()
}
