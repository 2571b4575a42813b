//! Malformed CSV, the file as a whole: a file that cannot be read as users and passwords
//! at all (no header row, a header without a usable user or password column, an empty
//! file) is exit 2 before anything is sent, with an error that names the columns found
//! and never shows a value that could be a password; a header with no rows is exit 0
//! with an empty report; and header names match in any case, with spaces and a BOM.

use super::*;

const CHANGED: &str = "password changed";

#[tokio::test]
async fn a_missing_header_is_exit_2_and_shows_no_password() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "alice@example.com,Canary-Header-Pw9\nbob@example.com,Zoom1357Rb\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    let error = format!("{:#}", result.unwrap_err());
    assert!(
        error.ends_with(
            "the header has no user column (user_id, userId, id or email; name another with \
             --user-column); columns found: alice@example.com, <hidden> (the first row looks like data: is the header row \
             missing? values that could be passwords are not shown)"
        ),
        "{error}"
    );
    assert!(!error.contains("Canary"), "{error}");
    assert!(!report.exists());
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn a_header_without_a_usable_column_is_exit_2_naming_the_columns() {
    let cases: [(&str, &str); 4] = [
        (
            "email,name\na@x.com,A\n",
            "the header has no password column \"password\" (name another with --password-column, or make passwords with --generate); columns found: email, name",
        ),
        (
            "login,Password\na,Zoom1357Ra\n",
            "the header has no user column (user_id, userId, id or email; name another with --user-column); columns found: login, Password",
        ),
        (
            ",,\n",
            "the header has no user column (user_id, userId, id or email; name another with --user-column); columns found: (none)",
        ),
        (
            "\u{FEFF}  \n",
            "the header has no user column (user_id, userId, id or email; name another with --user-column); columns found: (none)",
        ),
    ];
    let server = ok_server().await;
    for (csv, wanted) in cases {
        let dir = util::tmp();
        let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
        let error = format!("{:#}", result.unwrap_err());
        assert!(error.ends_with(wanted), "{csv:?}: {error}");
        assert!(!report.exists());
    }
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn an_empty_file_is_exit_2() {
    let server = ok_server().await;
    for csv in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n\n"] {
        let dir = util::tmp();
        let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
        let error = format!("{:#}", result.unwrap_err());
        assert!(
            error.ends_with(
                "is empty: expected a header row (e.g. email,password) and one user a row"
            ),
            "{csv:?}: {error}"
        );
        assert!(!report.exists());
    }
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn a_header_with_no_rows_is_exit_0() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "\u{FEFF} User_ID , PASSWORD \r\n\r\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    let result = result.unwrap();
    assert_eq!((result.exit_code.code(), result.tally.rows()), (0, 0));
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        format!("{}\n", zoom_rotate::ledger::report::CSV_HEADER)
    );
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn header_names_match_in_any_case_with_spaces_and_a_bom() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "\u{FEFF}\"Name\", UserId ,\"PassWord\"\nAnn,a@x.com,Zoom1357Ra\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 0);
    assert_rows(&report, &[(2, "a@x.com", "changed", 1, CHANGED)]);
    assert_eq!(sent(&server).await, [put("a%40x.com", "Zoom1357Ra")]);
}
