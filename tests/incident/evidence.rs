//! The evidence folder: created private and only when new or empty, the targets and the
//! activity report saved, the report and summary copied in, and a manifest that verifies
//! with `sha256sum -c` (where installed) and with `evidence::verify`, and that catches a
//! changed or an added file. A missing report scope is a warning in the folder.

use super::*;
use std::os::unix::fs::PermissionsExt;
use zoom_rotate::commands::evidence::{self, Evidence, VerifyError};
use zoom_rotate::commands::users::fetch::Pager;
use zoom_rotate::commands::users::rows::UserRow;
use zoom_rotate::pipeline::limiter::Limiter;
use zoom_rotate::simulator::SimConfig;
use zoom_rotate::zoom::auth::Auth;
use zoom_rotate::zoom::client::{http_client, ZoomClient};
use zoom_rotate::zoom::retry::RetrySettings;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn day(s: &str) -> std::time::SystemTime {
    humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).unwrap()
}

/// Fills an evidence folder from a simulator configured by `config`; returns its path.
async fn fill(dir: &Path, config: SimConfig) -> PathBuf {
    let sim = util::sim(config).await;
    let folder = dir.join("incident");
    let mut ev = Evidence::create(&folder, false, day("2026-12-06")).unwrap();
    let targets = [
        UserRow::from_json(
            &json!({"id": "u3", "email": "sso.sam@corp.example", "login_types": [101]}),
        )
        .unwrap(),
        UserRow::from_json(&json!({"id": "u2", "email": "ann@corp.example", "login_types": [100]}))
            .unwrap(),
    ];
    ev.save_targets(&targets).unwrap();
    let http = http_client(std::time::Duration::from_secs(10)).unwrap();
    let client = ZoomClient::new(
        http.clone(),
        &sim.base_url(),
        zoom_rotate::zoom::client::BodyFormat::Json,
    );
    let auth = Auth::new(
        util::token("sim-token"),
        url::Url::parse(&sim.token_url()).unwrap(),
    )
    .unwrap();
    let limiter = Limiter::new(10.0);
    let stop = Stop::new();
    let retry = RetrySettings {
        attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
    };
    let pager = Pager {
        client: &client,
        http: &http,
        auth: &auth,
        limiter: &limiter,
        retry,
        stop: &stop,
    };
    ev.save_activities(&pager, day("2026-11-29"), day("2026-11-30"))
        .await
        .unwrap();
    let report = util::write(
        dir,
        "r.csv",
        "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message\n",
    );
    ev.finish(&report, &dir.join("r.csv.meta"), r#"{"rows":0}"#)
        .unwrap();
    folder
}

#[tokio::test]
async fn the_manifest_verifies_and_catches_a_changed_or_added_file() {
    let dir = util::tmp();
    let folder = fill(dir.path(), util::sim_users(dir.path(), ACCOUNT)).await;
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(
        evidence::verify(&folder).unwrap(),
        [
            "activities-20261206T000000Z.jsonl",
            "report.csv",
            "summary-20261206T000000Z.json",
            "targets-20261206T000000Z.csv"
        ]
    );
    for name in [
        "activities-20261206T000000Z.jsonl",
        "report.csv",
        "summary-20261206T000000Z.json",
        "targets-20261206T000000Z.csv",
        "SHA256SUMS",
    ] {
        assert_eq!(mode(&folder.join(name)), 0o600, "{name}");
        let text = std::fs::read_to_string(folder.join(name)).unwrap();
        assert!(!text.contains("sim-token"), "{name}");
    }
    assert_eq!(
        lines(&folder.join("targets-20261206T000000Z.csv"))[1],
        "u3,sso.sam@corp.example,,,101,,,,"
    );
    // Four sign-ins fall in 2026-11-29..30 (u1, u2, u3 on the 30th, u6 on the 29th).
    assert_eq!(
        lines(&folder.join("activities-20261206T000000Z.jsonl")).len(),
        4
    );
    let sha256sum = util::scrub(&mut std::process::Command::new("sha256sum"))
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&folder)
        .output();
    if let Ok(o) = sha256sum {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    std::fs::write(folder.join("extra.txt"), "x").unwrap();
    assert!(
        matches!(evidence::verify(&folder), Err(VerifyError::Unlisted { file }) if file == "extra.txt")
    );
    std::fs::remove_file(folder.join("extra.txt")).unwrap();
    std::fs::write(folder.join("report.csv"), "tampered").unwrap();
    assert!(
        matches!(evidence::verify(&folder), Err(VerifyError::Mismatch { file }) if file == "report.csv")
    );
}

#[tokio::test]
async fn a_missing_report_scope_is_a_warning_kept_in_the_folder() {
    let dir = util::tmp();
    let config = SimConfig {
        activities_forbidden: true,
        ..util::sim_users(dir.path(), ACCOUNT)
    };
    let folder = fill(dir.path(), config).await;
    assert_eq!(
        std::fs::read_to_string(folder.join("WARNINGS.txt")).unwrap(),
        "the sign-in activity report (2026-11-29 to 2026-11-30) was not saved: the app lacks the report scope (report:read:admin): HTTP 403/4700: Invalid access token, does not contain scopes:[report:read:admin].\n"
    );
    assert_eq!(
        evidence::verify(&folder).unwrap(),
        [
            "WARNINGS.txt",
            "activities-20261206T000000Z.jsonl",
            "report.csv",
            "summary-20261206T000000Z.json",
            "targets-20261206T000000Z.csv"
        ]
    );
}

#[test]
fn an_existing_non_empty_folder_is_refused_and_an_empty_one_is_taken() {
    let dir = util::tmp();
    util::write(dir.path(), "old.txt", "earlier run");
    let e = Evidence::create(dir.path(), false, day("2026-12-06")).unwrap_err();
    assert!(format!("{e:#}").contains("is not empty"), "{e:#}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    Evidence::create(&empty, false, day("2026-12-06")).unwrap();
    assert_eq!(mode(&empty), 0o700);
}
