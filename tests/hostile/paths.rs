//! User IDs that try to leave their path segment: each is sent percent-encoded as exactly
//! one segment, and the server decodes the very ID the input gave. IDs that cannot be a
//! user (control characters, `.`, `..`, `me`) are refused and never sent.

use super::*;
use percent_encoding::percent_decode_str;

/// Hostile IDs and the one segment each must become.
const HOSTILE: [(&str, &str); 11] = [
    (
        "../../accounts/me/settings",
        "..%2F..%2Faccounts%2Fme%2Fsettings",
    ),
    ("u1?x=1", "u1%3Fx%3D1"),
    ("u1#frag", "u1%23frag"),
    ("%2e%2e", "%252e%252e"),
    ("a/b@example.com", "a%2Fb%40example.com"),
    ("a b+c@example.com", "a%20b%2Bc%40example.com"),
    ("josé@exämple.com", "jos%C3%A9%40ex%C3%A4mple.com"),
    ("..%2f", "..%252f"),
    ("...", "..."),
    ("u1;x=1&y", "u1%3Bx%3D1%26y"),
    ("u1\\x\u{200b}", "u1%5Cx%E2%80%8B"),
];

fn hostile_csv() -> String {
    let mut csv = "email,password\n".to_string();
    for (i, (id, _)) in HOSTILE.iter().enumerate() {
        csv.push_str(&format!("\"{id}\",Zoom1357R{i}\n"));
    }
    csv
}

#[tokio::test]
async fn each_id_is_exactly_one_segment_decoding_to_itself() {
    let server = ok_server().await;
    let dir = util::tmp();
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, hostile_csv(), "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 0);
    assert_eq!(util::rows(&report).len(), HOSTILE.len());
    let requests = server.received_requests().await.unwrap();
    let mut got: Vec<(String, Option<String>, Value)> = requests
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                r.url.query().map(str::to_string),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, Option<String>, Value)> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, (_, segment))| {
            let (path, body) = put(segment, &format!("Zoom1357R{i}"));
            (path, None, body)
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected);
    for (id, segment) in HOSTILE {
        assert!(!segment.contains('/'));
        assert_eq!(percent_decode_str(segment).decode_utf8().unwrap(), id);
    }
}

#[tokio::test]
async fn the_simulator_changes_exactly_the_user_each_id_names() {
    let dir = util::tmp();
    let mut users = "id,email,password,role,changes_24h,recent_passwords\n".to_string();
    for (i, (id, _)) in HOSTILE.iter().enumerate() {
        users.push_str(&format!("u{i},\"{id}\",Old-Pass-{i}x9,member,0,\n"));
    }
    users.push_str("u99,bystander@example.com,Old-Pass-99x,member,0,\n");
    let sim = sim_with(dir.path(), &users, SimConfig::default()).await;
    let (result, report) = rotate(
        dir.path(),
        &sim.base_url(),
        "sim-token",
        hostile_csv(),
        "",
        &[],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    assert!(util::rows(&report)
        .iter()
        .all(|r| r.outcome.as_str() == "changed"));
    for (i, (id, _)) in HOSTILE.iter().enumerate() {
        let user = sim.user(&format!("u{i}")).unwrap();
        assert_eq!(user.email, *id);
        assert_eq!(
            (
                user.current_password.as_str(),
                user.received_passwords.len()
            ),
            (format!("Zoom1357R{i}").as_str(), 1),
            "{id}"
        );
    }
    let bystander = sim.user("u99").unwrap();
    assert_eq!(
        (
            bystander.current_password.as_str(),
            bystander.received_passwords.len()
        ),
        ("Old-Pass-99x", 0)
    );
    let stats = sim.stats();
    assert_eq!(
        (
            stats.password_puts,
            stats.settings_gets,
            stats.not_found_404
        ),
        (HOSTILE.len() as u64, 0, 0)
    );
}

#[tokio::test]
async fn ids_that_cannot_be_a_user_are_refused_and_never_sent() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "email,password\n\
               .,Zoom1357Ra\n\
               \x20.. ,Zoom1357Rb\n\
               me,Zoom1357Rc\n\
               ME,Zoom1357Rd\n\
               \"u1\tx\",Zoom1357Re\n\
               u1\u{85}x,Zoom1357Rf\n\
               \"u1\rx\",Zoom1357Rg\n\
               ok@x.com,Zoom1357Rh\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    let me = "names the account running this job, not a user: give the user's ID or email";
    assert_rows(
        &report,
        &[
            (
                2,
                ".",
                "invalid_input",
                0,
                "line 2: \".\" is not a user ID or email",
            ),
            (
                3,
                "..",
                "invalid_input",
                0,
                "line 3: \"..\" is not a user ID or email",
            ),
            (4, "me", "invalid_input", 0, &format!("line 4: \"me\" {me}")),
            (5, "ME", "invalid_input", 0, &format!("line 5: \"me\" {me}")),
            (
                6,
                "u1\\tx",
                "invalid_input",
                0,
                "line 6: the user ID contains a control character",
            ),
            (
                7,
                "u1\\u{85}x",
                "invalid_input",
                0,
                "line 7: the user ID contains a control character",
            ),
            (
                8,
                "u1\\rx",
                "invalid_input",
                0,
                "line 8: the user ID contains a control character",
            ),
            // A lone CR ends a line, as an editor shows it.
            (10, "ok@x.com", "changed", 1, "password changed"),
        ],
    );
    assert_eq!(sent(&server).await, [put("ok%40x.com", "Zoom1357Rh")]);
}
