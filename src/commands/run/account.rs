//! What a run reads from the account before the first password leaves: its enhanced
//! password rules, through the limiter (a Medium call), with the token checked on the way.

use crate::pipeline::limiter::Limiter;
use crate::settings::Settings;
use crate::vocab::stop::Stop;
use crate::zoom::auth::Auth;
use crate::zoom::client::{self, ZoomClient};
use crate::zoom::rules::PasswordPolicy;

/// Reads the account's enhanced password rules (a Medium call, so through the limiter).
/// A 401 means the token itself is refused, and every PUT would be too: a fixed token
/// ends the run at once, an S2S token is renewed once and then ends it, before any
/// password is sent (`Err`, exit 2). Any other refusal (403, missing scope) or failure
/// falls back to the basic rules, loudly.
pub(super) async fn fetch_policy(
    http: &reqwest::Client,
    auth: &Auth,
    base: &str,
    limiter: &Limiter,
    s: &Settings,
    stop: &Stop,
) -> anyhow::Result<PasswordPolicy> {
    let client = ZoomClient::new(http.clone(), base, s.body);
    let mut renewed = false;
    let result = loop {
        if !limiter.acquire(stop.token()).await {
            return Ok(PasswordPolicy::default());
        }
        let bearer = match auth.bearer(http).await {
            Ok(b) => b,
            Err(e) => break Err(e.to_string()),
        };
        match client.get_policy(&bearer).await {
            Err(client::PolicyError::Refused {
                status: 401,
                message,
                ..
            }) => {
                let refused = format!("the access token was refused (HTTP 401: {message}) when reading the account's settings");
                if renewed {
                    anyhow::bail!("{refused}, even just after it was fetched, before any password was sent: check the Server-to-Server app's scopes and that it is activated");
                }
                let renewable = auth
                    .renew_after_401(http, bearer.generation)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{refused}, and no new one could be had: {e}; nothing was sent"
                        )
                    })?;
                if !renewable {
                    anyhow::bail!(
                        "{refused}, before any password was sent: check ZOOM_ACCESS_TOKEN"
                    );
                }
                renewed = true;
            }
            other => break other.map_err(|e| e.to_string()),
        }
    };
    Ok(match result {
        Ok(p) => {
            tracing::info!(
                min_length = p.minimum_password_length,
                special_character = p.have_special_character,
                consecutive_characters = p.consecutive_characters_length,
                weak_enhance_detection = p.weak_enhance_detection,
                "the account's password rules are checked locally"
            );
            p
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's password rules (needs scope account:read:admin); only Zoom's basic rules are checked locally");
            PasswordPolicy::default()
        }
    })
}
