//! Whom a command talks to: Zoom as the settings say, or (with `--simulate`) the built-in
//! simulator, started here on loopback, with its URLs and its credentials; and the API
//! base a command ends up using once the token has answered. Shared by `run` and `users`.

use crate::settings::ZoomSettings;
use crate::simulator;
use crate::zoom::auth::Credentials;
use crate::zoom::url::{check_url, DEFAULT_BASE_URL};

/// Where requests go.
pub struct Target {
    /// The simulator this command started, to shut down at its end.
    pub sim: Option<simulator::SimHandle>,
    pub creds: Credentials,
    pub token_url: url::Url,
    pub base_url: Option<url::Url>,
}

impl Target {
    /// Starts the simulator when `simulate`, logging `banner` with its URL; otherwise
    /// warns of any URL config.toml moves off Zoom's hosts.
    pub async fn choose(
        z: &ZoomSettings,
        creds: Credentials,
        simulate: bool,
        banner: &str,
    ) -> anyhow::Result<Target> {
        if !simulate {
            z.warn_off_zoom();
            return Ok(Target {
                sim: None,
                creds,
                token_url: z.token_url.clone(),
                base_url: z.base_url.clone(),
            });
        }
        let h = simulator::start(z.simulator.clone(), ([127, 0, 0, 1], 0).into()).await?;
        tracing::warn!(base_url = %h.base_url(), "{banner}");
        let c = h.config();
        let creds = Credentials::simulator(&c.account_id, &c.client_id, &c.client_secret);
        Ok(Target {
            creds,
            token_url: check_url("token_url", &h.token_url())?,
            base_url: Some(check_url("base_url", &h.base_url())?),
            sim: Some(h),
        })
    }

    /// The API base once the token has answered: an explicit base (flag, environment,
    /// config, the simulator) always wins; the token's `api_url` is only a default, and
    /// only to one of Zoom's own hosts (or the token endpoint's, as the simulator's is).
    pub fn base(&self, z: &ZoomSettings, api_url: Option<String>) -> String {
        let mut base = self
            .base_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        if let Some(api_url) = api_url.filter(|_| z.base_url.is_none() && self.sim.is_none()) {
            match crate::zoom::auth::api_base(&api_url, &z.token_url) {
                Ok(url) => {
                    base = url.to_string();
                    tracing::info!("the account's API base: {base} (the token's api_url)");
                }
                Err(why) => tracing::warn!(
                    "the token's api_url {:?} {why}: not followed, keeping {base}",
                    crate::zoom::auth::endpoint::shown(&api_url)
                ),
            }
        }
        base
    }
}
