//! Issue 13, incident containment from Zoom itself: `zoom-rotate users` (paging through
//! expiring page tokens, 429s between pages, filters, a listing `run` reads unchanged),
//! the simulator's directory endpoints (listings, the SSO token revoke on its own Light
//! budget, the activity report), and the evidence folder's manifest.
//!
//! This file holds the shared helpers: the `users` command in-process, a wiremock page,
//! a simulator account with login types and groups. The tests are grouped by topic:
//! `listing` (the paging loop against exact wiremock sequences), `filters`, `roundtrip`
//! (the binary: users → run), `directory` (the simulator's endpoints) and `evidence`.

use crate::util::{self, p, v2};
use clap::Parser;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use zoom_rotate::cli::UsersArgs;
use zoom_rotate::cli::{Cli, Command};
use zoom_rotate::commands::users::UsersResult;
use zoom_rotate::vocab::stop::Stop;
use zoom_rotate::zoom::auth::Credentials;

mod contain;
mod directory;
mod evidence;
mod filters;
mod listing;
mod pages;
mod roundtrip;
mod wired;

/// Fast retries, so backoffs take milliseconds.
const FAST_RETRY: &str = "[retry]\nattempts = 3\nbase_delay_ms = 10\nmax_delay_ms = 50\n";

/// A simulated account with every login type the issue names, statuses and groups.
const ACCOUNT: &str = "id,email,password,role,changes_24h,recent_passwords,login_types,status,type,dept,last_login,groups
u1,owner@corp.example,Owner-Pw-Valid-1,owner,0,,100,active,2,IT,2026-11-30T08:00:00Z,g-it
u2,ann@corp.example,Ann-Pw-Valid-22,member,0,,100,active,2,Finance,2026-11-30T09:00:00Z,g-fin
u3,sso.sam@corp.example,Sam-Pw-Valid-33,member,0,,101,active,2,Finance,2026-11-30T10:00:00Z,g-fin|g-it
u4,gina@gmail.example,Gina-Pw-Valid-44,member,0,,1,active,1,Finance,,g-fin
u5,ivy@corp.example,Ivy-Pw-Valid-55,admin,0,,100|101,inactive,2,Sales,,g-fin
u6,pat@other.example,Pat-Pw-Valid-66,member,0,,100,active,1,sales,2026-11-29T10:00:00Z,
u7,pending@corp.example,Pen-Pw-Valid-77,member,0,,100,pending,1,Finance,,g-fin
";

/// Parses `zoom-rotate users <words>`, adding `--config <dir>/c.toml` ([`FAST_RETRY`])
/// when none is given.
fn users_args(dir: &Path, words: &[&str]) -> UsersArgs {
    util::hermetic();
    let mut argv: Vec<String> = vec!["zoom-rotate".into(), "users".into()];
    argv.extend(words.iter().map(|w| w.to_string()));
    if !words.contains(&"--config") {
        argv.push("--config".into());
        argv.push(p(&util::write(dir, "c.toml", FAST_RETRY)));
    }
    match Cli::try_parse_from(&argv)
        .expect("valid command line")
        .command
    {
        Command::Users(args) => *args,
        other => panic!("not a users command: {other:?}"),
    }
}

/// `zoom-rotate users <words>` in-process; `Err` is exit 2.
async fn users(dir: &Path, words: &[&str], creds: Credentials) -> anyhow::Result<UsersResult> {
    zoom_rotate::commands::users::run(&users_args(dir, words), creds, Stop::new()).await
}

/// A `GET /users` page of Zoom's shape.
/// `(path, next_page_token)` of every request received, in order; each a GET with the
/// bearer and page_size=300.
async fn asked(server: &wiremock::MockServer) -> Vec<(String, Option<String>)> {
    let requests: Vec<wiremock::Request> = server.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| {
            assert_eq!(r.method.as_str(), "GET");
            assert_eq!(
                r.headers.get("authorization").unwrap().to_str().unwrap(),
                "Bearer wm-token"
            );
            let q = |k: &str| {
                r.url
                    .query_pairs()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.into_owned())
            };
            assert_eq!(q("page_size").as_deref(), Some("300"));
            (r.url.path().to_string(), q("next_page_token"))
        })
        .collect()
}

fn page(users: &[Value], next: &str) -> Value {
    json!({"page_count": 3, "page_number": 1, "page_size": 300, "total_records": 7,
           "next_page_token": next, "users": users})
}

/// A user of Zoom's listing.
fn zuser(id: &str, email: &str, login_types: &[u32]) -> Value {
    json!({"id": id, "email": email, "type": 2, "status": "active", "role_id": "2",
           "dept": "Ops", "login_types": login_types, "group_ids": [],
           "last_login_time": "2026-11-30T10:00:00Z"})
}

/// The listing's rows as text lines (header first).
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("listing reads")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The first column (id) of each data row of a CSV listing.
fn ids(path: &Path) -> Vec<String> {
    lines(path)
        .iter()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default().to_string())
        .collect()
}

/// A listing file's path in `dir`.
fn out(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
