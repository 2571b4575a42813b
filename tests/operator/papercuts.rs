//! Papercuts (issue 12, item 7): singular counts in the summary, a missing input said
//! once, and the plan names of Zoom's Business+ tier accepted as the simulator accepts
//! them.

use super::*;

#[tokio::test]
async fn one_row_is_one_row_and_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex("^/v2/users/[^/]+/password$"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    util::write(
        dir.path(),
        "in.csv",
        "email,password\na@x.com,Harbor-Violet-1q\n",
    );
    let config = util::empty_config(dir.path());
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(["run", "in.csv", "--report", "r.csv", "--no-fetch-policy"])
        .args(["--base-url", &v2(&server), "--config", &p(&config)]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], ["zoom-rotate: 1 row", "  changed           1"]);
    assert!(
        lines[2].starts_with("elapsed ") && lines[2].contains(" s, 1 request, achieved rate "),
        "{stdout}"
    );
}

#[test]
fn a_missing_input_is_said_once() {
    let dir = util::tmp();
    let config = util::empty_config(dir.path());
    let out = bin()
        .current_dir(dir.path())
        .args(["run", "nope.csv", "--dry-run", "--config", &p(&config)])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].ends_with(" ERROR cannot read nope.csv: No such file or directory (os error 2)"),
        "{stderr}"
    );
}

#[test]
fn enterprise_education_and_partner_plans_have_the_business_budget() {
    let dir = util::tmp();
    util::write(dir.path(), "in.csv", "email\na@x.com\n");
    let empty = util::empty_config(dir.path());
    let from_file = util::write(dir.path(), "plan.toml", "[rate]\nplan = \"enterprise\"\n");
    for (i, (plan, config)) in [
        (Some("enterprise"), &empty),
        (Some("education"), &empty),
        (Some("partner"), &empty),
        (None, &from_file),
    ]
    .into_iter()
    .enumerate()
    {
        let mut cmd = bin();
        cmd.current_dir(dir.path())
            .args([
                "run",
                "in.csv",
                "--dry-run",
                "--offline",
                "--generate",
                "--discard-passwords",
            ])
            .args(["--report", &format!("r{i}.csv"), "--config", &p(config)]);
        if let Some(plan) = plan {
            cmd.args(["--plan", plan]);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(0), "{plan:?}: {stderr}");
        assert!(
            stderr.contains(
                "plan: 1 user at 48/s: about 1 s; 80% of the business plan's Medium budget of 60/s"
            ) && stderr.contains("plan=\"business\""),
            "{plan:?}: {stderr}"
        );
    }
}
