//! What a run reads from the account before the first password leaves: the first token
//! ([`connect`]) and its enhanced password rules, through the limiter (a Medium call),
//! with the token checked on the way.
//! What each answer means is `zoom::retry::settings_read`; this is the loop that asks,
//! renews and logs.

use crate::commands::target::Target;
use crate::pipeline::limiter::Limiter;
use crate::settings::Settings;
use crate::vocab::stop::Stop;
use crate::vocab::{RefusalCode, Refused};
use crate::zoom::auth::Auth;
use crate::zoom::client::ZoomClient;
use crate::zoom::retry::settings_read::{decide, Event, State, Step};
use crate::zoom::rules::PasswordPolicy;
use std::sync::Arc;

/// Reads the account's enhanced password rules (a Medium call, so through the limiter).
/// A 401 means the token itself is refused, and every PUT would be too: a fixed token
/// ends the run at once, an S2S token is renewed once and then ends it, before any
/// password is sent (`Err`, exit 2). Any other refusal (403, missing scope) or failure
/// falls back to the basic rules, loudly. A stop while waiting for the limiter reads
/// nothing and keeps the basic rules (the run is ending anyway).
pub(super) async fn fetch_policy(
    http: &reqwest::Client,
    auth: &Auth,
    base: &str,
    limiter: &Limiter,
    s: &Settings,
    stop: &Stop,
) -> anyhow::Result<PasswordPolicy> {
    let client = ZoomClient::new(http.clone(), base, s.body);
    let mut state = State::default();
    // The generation of the token last used: a renewal is asked for that one, so a token
    // another task already replaced is not replaced twice.
    let mut generation = 0;
    let mut step = Step::Ask;
    loop {
        let event = match step {
            Step::Ask => {
                if !limiter.acquire(stop.token()).await {
                    return Ok(PasswordPolicy::default());
                }
                match auth.bearer(http).await {
                    Ok(bearer) => {
                        generation = bearer.generation;
                        Event::Read(client.get_policy(&bearer).await)
                    }
                    Err(e) => Event::TokenError(e.to_string()),
                }
            }
            Step::Renew => match auth.renew_after_401(http, generation).await {
                Ok(true) => Event::Renewed,
                Ok(false) => Event::RenewRefused,
                Err(e) => Event::RenewFailed(e.to_string()),
            },
            Step::Use(p) => {
                tracing::info!(
                    min_length = p.minimum_password_length,
                    special_character = p.have_special_character,
                    consecutive_characters = p.consecutive_characters_length,
                    weak_enhance_detection = p.weak_enhance_detection,
                    "the account's password rules are checked locally"
                );
                return Ok(p);
            }
            Step::FallBack(e) => {
                tracing::warn!(error = %e, "could not read the account's password rules (needs scope account:read:admin); only Zoom's basic rules are checked locally");
                return Ok(PasswordPolicy::default());
            }
            // The token is refused: the credentials' fault, as at the token endpoint.
            Step::Refuse(why) => return Err(Refused::new(RefusalCode::Credentials, why).into()),
        };
        step = decide(&mut state, event);
    }
}

/// The token, the API base and the account's password rules, for a real run and a dry
/// run alike: the first token is fetched (refused credentials are exit 2), the token's
/// `api_url` followed where allowed, and the rules read (`account`; a 401 there is exit
/// 2 too) and checked for rules no password can meet. So a dry run refuses what the real
/// run would, and never passes a row on a wrong token or a stricter account. Only an
/// offline dry run (`--offline`) asks nothing: no token, Zoom's basic rules.
pub(super) async fn connect(
    s: &Settings,
    target: &Target,
    http: &reqwest::Client,
    limiter: &Limiter,
    stop: &Stop,
) -> anyhow::Result<(Arc<Auth>, String, PasswordPolicy)> {
    if s.offline {
        let base = target.base(&s.zoom, None);
        let none = Arc::new(Auth::Static(secrecy::SecretString::from(String::new())));
        return Ok((none, base, PasswordPolicy::default()));
    }
    let z = &s.zoom;
    let auth = Auth::new(target.creds.clone(), target.token_url.clone())
        .map_err(|e| {
            let e = anyhow::Error::from(e);
            if !s.dry_run {
                return e;
            }
            e.context(
                "a dry run asks Zoom what the real run would (the token and the account's \
                 password rules), so it needs the same credentials; --simulate rehearses \
                 against the built-in simulator, --offline checks the file alone",
            )
        })?
        .token_timeout(z.timeout);
    let api_url = tokio::select! {
        started = auth.start_with_backoff(http, z.retry.base_delay, z.retry.max_delay) => started?,
        _ = stop.stopped() => anyhow::bail!("stopped while asking for the first token: nothing was sent"),
    };
    let base = target.base(z, api_url);
    let policy = if s.fetch_policy {
        fetch_policy(http, &auth, &base, limiter, s, stop).await?
    } else {
        if s.dry_run && matches!(auth, Auth::Static(_)) {
            tracing::warn!("dry run with --no-fetch-policy and a fixed token (ZOOM_ACCESS_TOKEN): Zoom is asked nothing, so a wrong or expired token goes unnoticed until the real run");
        }
        PasswordPolicy::default()
    };
    policy.validate_as_account()?;
    Ok((Arc::new(auth), base, policy))
}
