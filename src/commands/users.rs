//! `zoom-rotate users`: the account's users, listed from Zoom into a CSV that `run`
//! reads unchanged (or JSON Lines), for an incident runbook's first step.
//!
//! `GET /v2/users` (and, with `--group`, `GET /v2/groups/{groupId}/members` first, whose
//! members are then listed with their login types from `/users`) is walked page by page
//! by [`fetch`], through one limiter at the Medium rate of `--plan`/`--rate`, with the
//! retries, 429 handling and token renewal of a run. The local filters ([`rows::Filters`])
//! apply to what Zoom returns. Settings are `run`'s own (the same flags, environment and
//! config.toml), resolved by the same code, so the two commands cannot disagree on a rate
//! or a URL.
//!
//! Output: stdout, or `--out FILE` (mode 0600, never overwritten). A file is written as
//! `FILE.incomplete` and gets its name only once the listing is complete, so a stopped
//! listing can never pass for the whole account; stderr says how many users it holds.
//! A page counts only when it carries its array (`users`, `members`): a 200 without it
//! fails the listing (`zoom::retry::listing`), never ends it as if complete.
//! Exit codes: 0 listed; 2 nothing listed (bad usage or config, credentials refused, a
//! missing scope, an unknown group, a first page without its array); 3 stopped partway.

pub mod fetch;
pub mod rows;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::{ListFormat, UsersArgs};

use crate::commands::target::Target;
use crate::pipeline::limiter::Limiter;
use crate::settings::{FileConfig, RateFlags, ZoomSettings};
use crate::vocab::stop::Stop;
use crate::vocab::Exit;
use crate::zoom::auth::{Auth, Credentials};
use crate::zoom::client::{self, BodyFormat, ZoomClient};
use fetch::{each_page, Endpoint, PageError, Pager, Walk};
use rows::{Filters, Sink, UserRow};

/// How a listing ended, for `main` and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersResult {
    /// Done (0) complete, stopped (3) partway; refused (2) is an `Err`.
    pub exit_code: Exit,
    pub written: u64,
    /// Where the listing went: the file, or its `.incomplete` name when stopped; `None`
    /// for stdout, or when a stop came before the first page (no file was created).
    pub out: Option<PathBuf>,
}

/// The settings these flags ask for: the Zoom settings `run` resolves the same way
/// (`ZoomSettings`), from config.toml read once; nothing of `run`'s own is read or
/// checked (a bad `[input]` section or `ZOOM_ROTATE_CONCURRENCY` is no listing's concern).
fn settings(args: &UsersArgs) -> anyhow::Result<ZoomSettings> {
    let file = FileConfig::load(args.zoom.config.as_deref())?;
    Ok(ZoomSettings::resolve(
        &args.zoom,
        RateFlags::default(),
        &file,
    )?)
}

/// The local filters of the flags, checked.
fn filters(args: &UsersArgs) -> anyhow::Result<Filters> {
    let mut domains = Vec::new();
    for d in &args.domain {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
            anyhow::bail!("invalid --domain {d:?}: expected a domain such as example.com");
        }
        domains.push(d);
    }
    Ok(Filters {
        domains,
        departments: args
            .department
            .iter()
            .map(|d| d.trim().to_string())
            .collect(),
        login_types: args.login_type.clone(),
    })
}

/// Lists the users `args` asks for. `Err` is exit 2: nothing was listed.
pub async fn run(args: &UsersArgs, creds: Credentials, stop: Stop) -> anyhow::Result<UsersResult> {
    let s = settings(args)?;
    let filters = filters(args)?;
    if let Some(out) = &args.out {
        for p in [out.clone(), crate::ledger::side::incomplete(out)] {
            if p.exists() {
                anyhow::bail!(
                    "{} already exists and is never overwritten: choose another --out",
                    p.display()
                );
            }
        }
    }
    let target = Target::choose(
        &s,
        creds,
        s.simulate,
        "SIMULATION: listing the built-in Zoom simulator's account; no real account is read",
    )
    .await?;
    let http = client::http_client(s.timeout)?;
    let auth = Auth::new(target.creds.clone(), target.token_url.clone())?.token_timeout(s.timeout);
    let api_url = tokio::select! {
        started = auth.start_with_backoff(&http, s.retry.base_delay, s.retry.max_delay) => started?,
        () = stop.stopped() => anyhow::bail!("stopped while asking for the first token: nothing was listed"),
    };
    let base = target.base(&s, api_url);
    // Listings are GETs: the body format is never used.
    let client = ZoomClient::new(http.clone(), &base, BodyFormat::Json);
    let limiter = Limiter::new(s.rate);
    let pager = Pager {
        client: &client,
        http: &http,
        auth: &auth,
        limiter: &limiter,
        retry: s.retry,
        stop: &stop,
    };
    let format = args.format.unwrap_or(match &args.out {
        Some(p)
            if p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jsonl")) =>
        {
            ListFormat::Jsonl
        }
        _ => ListFormat::Csv,
    });
    let result = list(&pager, args, &filters, format).await;
    if let Some(h) = target.sim {
        h.shutdown().await;
    }
    result
}

/// Opens the output: stdout, or `FILE.incomplete`, created private.
fn open_out(out: Option<&Path>, format: ListFormat) -> std::io::Result<Sink> {
    let w: Box<dyn Write + Send> = match out {
        None => Box::new(std::io::stdout()),
        Some(p) => Box::new(crate::ledger::files::create_private(
            &crate::ledger::side::incomplete(p),
        )?),
    };
    Sink::new(w, format == ListFormat::Jsonl)
}

/// The member IDs of `group`, every page.
async fn members(pager: &Pager<'_>, group: &str) -> Result<HashSet<String>, PageError> {
    let mut ids = HashSet::new();
    let endpoint = Endpoint::Members {
        group: group.to_string(),
    };
    let walked = each_page(pager, &endpoint, |page| {
        for m in page
            .get("members")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(u) = UserRow::from_json(m) {
                ids.insert(u.id);
            }
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .await;
    match walked {
        Ok(()) => Ok(ids),
        Err(Walk::Page(e)) => Err(e),
        Err(Walk::Sink(never)) => match never {},
    }
}

async fn list(
    pager: &Pager<'_>,
    args: &UsersArgs,
    filters: &Filters,
    format: ListFormat,
) -> anyhow::Result<UsersResult> {
    let group = match &args.group {
        Some(g) => Some(members(pager, g).await.map_err(|e| {
            anyhow::anyhow!("cannot list the members of group {g:?}: {e}; nothing was listed")
        })?),
        None => None,
    };
    let endpoint = Endpoint::Users {
        status: args.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        role_id: args.role_id.clone(),
    };
    let mut listing = Listing {
        out: args.out.as_deref(),
        format,
        group,
        filters,
        sink: None,
        seen: HashSet::new(),
        written: 0,
        pages: 0,
        started: Instant::now(),
        last_progress: Instant::now(),
    };
    let walked = each_page(pager, &endpoint, |page| listing.take(page)).await;
    listing.end(walked)
}

/// One listing on its way out: the output, what was written, progress.
struct Listing<'a> {
    out: Option<&'a Path>,
    format: ListFormat,
    /// With `--group`: the member IDs.
    group: Option<HashSet<String>>,
    filters: &'a Filters,
    /// Opened when the first page is in: a listing refused at once writes nothing at
    /// all, not even a header on stdout.
    sink: Option<Sink>,
    /// Every ID written: a restart after an expired page token writes nobody twice.
    seen: HashSet<String>,
    written: u64,
    pages: u64,
    started: Instant,
    last_progress: Instant,
}

impl Listing<'_> {
    /// Writes a page's users that pass the filters, then flushes.
    fn take(&mut self, page: &serde_json::Value) -> std::io::Result<()> {
        self.pages += 1;
        let sink = match &mut self.sink {
            Some(s) => s,
            None => self.sink.insert(open_out(self.out, self.format)?),
        };
        let users = page.get("users").and_then(|u| u.as_array());
        for v in users.into_iter().flatten() {
            let Some(u) = UserRow::from_json(v) else {
                tracing::warn!("listing: a user without a usable id was skipped");
                continue;
            };
            let member = self.group.as_ref().is_none_or(|g| g.contains(&u.id));
            if member && self.filters.keep(&u) && self.seen.insert(u.id.clone()) {
                sink.write(&u)?;
                self.written += 1;
            }
        }
        sink.flush()?;
        if self.pages == 1 || self.last_progress.elapsed().as_secs() >= 2 {
            self.last_progress = Instant::now();
            let (pages, written) = (self.pages, self.written);
            tracing::info!(
                pages,
                users = written,
                "listing users: {written} written so far"
            );
        }
        Ok(())
    }

    /// The result: complete (exit 0, the file named), refused before anything was
    /// written (`Err`, exit 2, no file), or stopped partway (exit 3, left incomplete).
    fn end(self, walked: Result<(), Walk<std::io::Error>>) -> anyhow::Result<UsersResult> {
        let Listing {
            out,
            written,
            pages,
            started,
            sink,
            ..
        } = self;
        drop(sink);
        // Only a file the listing did create: the sink opens with the first page.
        let partial = out
            .map(crate::ledger::side::incomplete)
            .filter(|p| p.exists());
        let why = match walked {
            Ok(()) => {
                let out = out.map(finish_file).transpose()?;
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(users = written, pages, elapsed_ms, "listed {written} users");
                return Ok(UsersResult {
                    exit_code: Exit::Done,
                    written,
                    out,
                });
            }
            Err(Walk::Page(e)) if written == 0 && e.is_refusal() => {
                if let Some(p) = &partial {
                    let _ = std::fs::remove_file(p);
                }
                anyhow::bail!(
                    "cannot list users: {e}; nothing was listed{}",
                    scope_hint(&e)
                );
            }
            Err(Walk::Page(e)) => e.to_string(),
            Err(Walk::Sink(e)) => format!("cannot write the listing: {e}"),
        };
        let place = partial
            .as_ref()
            .map_or("standard output".to_string(), |p| p.display().to_string());
        tracing::error!(users = written, "INCOMPLETE listing: stopped partway ({why}); {written} users were written to {place}, which is not the whole listing");
        Ok(UsersResult {
            exit_code: Exit::Stopped,
            written,
            out: partial,
        })
    }
}

/// The listing rows of the users `wanted` names (IDs or e-mails, compared without case),
/// whatever their status: what Zoom knew of a run's targets before anything was sent,
/// for `evidence::Evidence::save_targets`. Walks `GET /users` once per status; users
/// not found are simply absent (the run reports them `user_not_found`).
pub async fn lookup(
    pager: &Pager<'_>,
    wanted: &HashSet<String>,
) -> Result<Vec<UserRow>, PageError> {
    let wanted: HashSet<String> = wanted.iter().map(|w| w.trim().to_lowercase()).collect();
    let (mut rows, mut seen) = (Vec::new(), HashSet::new());
    for status in ["active", "inactive", "pending"] {
        let endpoint = Endpoint::Users {
            status: Some(status.into()),
            role_id: None,
        };
        let walked = each_page(pager, &endpoint, |page| {
            let users = page.get("users").and_then(|u| u.as_array());
            for u in users.into_iter().flatten().filter_map(UserRow::from_json) {
                let named = wanted.contains(&u.id.to_lowercase())
                    || wanted.contains(&u.email.to_lowercase());
                if named && seen.insert(u.id.clone()) {
                    rows.push(u);
                }
            }
            Ok::<(), std::convert::Infallible>(())
        })
        .await;
        match walked {
            Ok(()) => {}
            Err(Walk::Page(e)) => return Err(e),
            Err(Walk::Sink(never)) => match never {},
        }
    }
    Ok(rows)
}

/// What a refusal probably means for the app's setup.
fn scope_hint(e: &PageError) -> &'static str {
    match e {
        PageError::Refused { status: 403, .. } => {
            " (the app needs scope user:read:admin, and group:read:admin for --group)"
        }
        PageError::Unauthorized(_) => " (check the app's credentials and that it is activated)",
        _ => "",
    }
}

/// Gives a complete listing its name: a hard link cannot replace a file that appeared
/// meanwhile, unlike a rename.
fn finish_file(out: &Path) -> anyhow::Result<PathBuf> {
    let partial = crate::ledger::side::incomplete(out);
    std::fs::hard_link(&partial, out).map_err(|e| {
        anyhow::anyhow!(
            "the listing is complete in {}, but cannot be named {}: {e}",
            partial.display(),
            out.display()
        )
    })?;
    std::fs::remove_file(&partial)?;
    Ok(out.to_path_buf())
}
