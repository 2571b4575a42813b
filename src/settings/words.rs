//! The words of the command that continues a run: this run's input and every flag that
//! changes what a continuation would send (where to, how fast, which passwords, how the
//! input is read), with absolute paths, so that the command works from any directory and
//! sends what this run would have sent. `--resume --report REPORT` is added by the
//! ledger, which keeps these words beside the report (`ledger::resume::origin`) so that
//! `status`, the summary and the second Ctrl-C all show the one command.
//!
//! Flags that change only how the run looks or when it stops (`--log-format`, `--yes`,
//! `--max-failures`, `--concurrency`, `--dry-run`, `--offline`) are not carried: the
//! operator adds them as wanted. `--max-report-age` is: the operator who let a resume
//! continue an old campaign's report has decided for that campaign, and every resume
//! needs it.

use super::Settings;
use crate::zoom::client::BodyFormat;
use crate::zoom::url::DEFAULT_TOKEN_URL;
use std::path::Path;

/// `path` made absolute against the working directory (without resolving symlinks, so
/// the words say what the operator named); `-` stays standard input.
fn text(path: &Path) -> String {
    crate::ledger::resume::origin::absolute(path)
        .display()
        .to_string()
}

/// `--name` and its value, if it takes one.
fn push(w: &mut Vec<String>, name: &str, value: Option<String>) {
    w.push(format!("--{name}"));
    w.extend(value);
}

impl Settings {
    /// `program run INPUT [flags]`: see the module's comment.
    pub fn continue_words(&self, program: &str) -> Vec<String> {
        let z = &self.zoom;
        let mut w: Vec<String> = vec![program.into(), "run".into(), text(&self.input)];
        let mut flag = |name: &str, value: Option<String>| push(&mut w, name, value);
        if let Some(c) = &z.config {
            flag("config", Some(text(c)));
        }
        if z.simulate {
            flag("simulate", None);
        }
        if let Some(u) = &z.base_url {
            flag("base-url", Some(u.to_string()));
        }
        if z.token_url.as_str() != DEFAULT_TOKEN_URL {
            flag("token-url", Some(z.token_url.to_string()));
        }
        flag("plan", Some(z.plan.name().into()));
        if z.rate_given {
            flag("rate", Some(format!("{}", z.rate)));
        } else {
            flag("budget-share", Some(format!("{}", z.share)));
        }
        if z.share > 1.0 {
            flag("rate-above-plan", None);
        }
        if self.body == BodyFormat::Multipart {
            flag("body", Some("multipart".into()));
        }
        if !self.fetch_policy {
            flag("no-fetch-policy", None);
        }
        // Given once for an old campaign, it is needed by every resume of it.
        if self.max_report_age_given {
            let days = self.max_report_age.as_secs() / 86_400;
            flag("max-report-age", Some(days.to_string()));
        }
        // A continuation contains and keeps evidence as this run does (into the same folder).
        if self.contain_sso {
            flag("contain-sso", None);
        }
        if let Some(e) = &self.evidence {
            flag("evidence", Some(text(&e.dir)));
            flag("since", Some((e.since.as_secs() / 86_400).to_string()));
        }
        self.input_words(&mut w);
        w
    }

    /// How the input is read and where its passwords come from.
    fn input_words(&self, w: &mut Vec<String>) {
        let mut flag = |name: &str, value: Option<String>| push(w, name, value);
        if let Some(g) = &self.generate {
            flag("generate", None);
            match &g.out {
                Some(out) => flag("generated-out", Some(text(out))),
                None => flag("discard-passwords", None),
            }
            for (name, value) in g.seal.iter().flat_map(|r| &r.words) {
                flag(name, Some(value.clone()));
            }
        }
        if let Some(c) = &self.user_column {
            flag("user-column", Some(c.clone()));
        }
        if self.password_column != "password" {
            flag("password-column", Some(self.password_column.clone()));
        }
        let (delimiter, encoding) = &self.dialect_given;
        if let Some(d) = delimiter {
            flag("delimiter", Some(d.clone()));
        }
        if let Some(e) = encoding {
            flag("encoding", Some(e.clone()));
        }
    }
}
