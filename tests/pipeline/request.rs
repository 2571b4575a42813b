//! The exact request: method, one path segment for any user ID, headers, and the body
//! as JSON or as the Postman seed's multipart form.

use super::*;

#[tokio::test]
async fn json_request_is_exact_and_ids_are_one_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(6)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let csv = "email,password\n\
        KdYKjnimT4KPd8FFgQt9FQ,Maple7-Quartz-Rain\n\
        bob+ops@example.com,\"Quote\"\"Back\\slash9x\"\n\
        a/b@example.com,Émile2024x\n\
        josé müller@example.com,Orbit-Lantern-19x\n\
        \x20100%?#x@example.com\x20,Copper-Fjord-83\n\
        ..%2F..%2Fadmin@example.com,Violet-Harbor-42\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", "r.csv", &[]).await;
    assert_eq!(result.unwrap().exit_code, 0);

    // (user ID, the raw path the server must see, the password, its exact JSON body)
    let expected: [(&str, &str, &str, &str); 6] = [
        (
            "KdYKjnimT4KPd8FFgQt9FQ",
            "/v2/users/KdYKjnimT4KPd8FFgQt9FQ/password",
            "Maple7-Quartz-Rain",
            r#"{"password":"Maple7-Quartz-Rain"}"#,
        ),
        (
            "bob+ops@example.com",
            "/v2/users/bob%2Bops%40example.com/password",
            "Quote\"Back\\slash9x",
            r#"{"password":"Quote\"Back\\slash9x"}"#,
        ),
        (
            "a/b@example.com",
            "/v2/users/a%2Fb%40example.com/password",
            "Émile2024x",
            r#"{"password":"Émile2024x"}"#,
        ),
        (
            "josé müller@example.com",
            "/v2/users/jos%C3%A9%20m%C3%BCller%40example.com/password",
            "Orbit-Lantern-19x",
            r#"{"password":"Orbit-Lantern-19x"}"#,
        ),
        (
            "100%?#x@example.com",
            "/v2/users/100%25%3F%23x%40example.com/password",
            "Copper-Fjord-83",
            r#"{"password":"Copper-Fjord-83"}"#,
        ),
        (
            "..%2F..%2Fadmin@example.com",
            "/v2/users/..%252F..%252Fadmin%40example.com/password",
            "Violet-Harbor-42",
            r#"{"password":"Violet-Harbor-42"}"#,
        ),
    ];
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), expected.len(), "one request per user");
    let user_agent = format!("zoom-rotate/{}", env!("CARGO_PKG_VERSION"));
    for (id, raw_path, password, body) in expected {
        let hits: Vec<&Request> = received
            .iter()
            .filter(|r| r.url.path() == raw_path)
            .collect();
        assert_eq!(hits.len(), 1, "exactly one request to {raw_path}");
        let r = hits[0];
        assert_eq!(r.method.as_str(), "PUT");
        assert_eq!(r.url.query(), None, "nothing of {id:?} leaked into a query");
        assert_eq!(r.url.fragment(), None);
        let segments: Vec<&str> = r.url.path().split('/').collect();
        assert_eq!(
            segments.len(),
            5,
            "{raw_path}: /v2/users/<one segment>/password"
        );
        assert_eq!(
            percent_decode_str(segments[3]).decode_utf8().unwrap(),
            id,
            "the segment decodes to the ID"
        );
        assert_eq!(
            header(r, "authorization"),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(header(r, "content-type"), Some("application/json"));
        assert_eq!(header(r, "user-agent"), Some(user_agent.as_str()));
        assert_eq!(String::from_utf8(r.body.clone()).unwrap(), body);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({ "password": password })
        );
    }
    assert!(util::rows(&report)
        .iter()
        .all(|r| r.outcome.as_str() == "changed"));
}

/// The parts of a multipart/form-data body: (headers, content) each.
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(Vec<String>, Vec<u8>)> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart/form-data: {content_type}"))
        .trim_matches('"');
    assert!(!boundary.is_empty());
    let open = format!("--{boundary}\r\n");
    let close = format!("\r\n--{boundary}--\r\n");
    let between = format!("\r\n--{boundary}\r\n");
    let text = body;
    assert!(
        text.starts_with(open.as_bytes()),
        "body opens with the boundary"
    );
    assert!(
        text.ends_with(close.as_bytes()),
        "body closes with the boundary"
    );
    let inner = &text[open.len()..text.len() - close.len()];
    let mut parts = Vec::new();
    let mut rest = inner;
    loop {
        let (part, next) = match find(rest, between.as_bytes()) {
            Some(i) => (&rest[..i], Some(&rest[i + between.len()..])),
            None => (rest, None),
        };
        let split = find(part, b"\r\n\r\n").expect("part headers end with a blank line");
        let headers = std::str::from_utf8(&part[..split])
            .unwrap()
            .split("\r\n")
            .map(str::to_string)
            .collect();
        parts.push((headers, part[split + 4..].to_vec()));
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn multipart_request_has_exactly_one_password_part() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let csv = "email,password\nbob+ops@example.com,Maple7-Quartz-Rain\nu2,Émile2024x\n";
    let (result, _) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        csv,
        "",
        "r.csv",
        &["--body", "multipart"],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    let received = server.received_requests().await.unwrap();
    let user_agent = format!("zoom-rotate/{}", env!("CARGO_PKG_VERSION"));
    for (raw_path, password) in [
        (
            "/v2/users/bob%2Bops%40example.com/password",
            "Maple7-Quartz-Rain",
        ),
        ("/v2/users/u2/password", "Émile2024x"),
    ] {
        let r = received
            .iter()
            .find(|r| r.url.path() == raw_path)
            .unwrap_or_else(|| panic!("no request to {raw_path}"));
        assert_eq!(r.method.as_str(), "PUT");
        assert_eq!(
            header(r, "authorization"),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(header(r, "user-agent"), Some(user_agent.as_str()));
        let content_type = header(r, "content-type").expect("a content type");
        let parts = multipart_parts(content_type, &r.body);
        assert_eq!(parts.len(), 1, "exactly one part");
        let (headers, content) = &parts[0];
        assert_eq!(
            headers,
            &vec!["Content-Disposition: form-data; name=\"password\"".to_string()],
            "one field named password, no file name"
        );
        assert_eq!(std::str::from_utf8(content).unwrap(), password);
    }
}
