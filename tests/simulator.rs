//! The simulator against API-NOTES, row by row. Real HTTP on loopback through reqwest,
//! ports from the OS, one simulator per test. This file holds the shared helpers; the
//! tests are grouped by what they check: `answers` (the response table of a password
//! change), `budget` (per-second and daily 429s), `auth` (tokens and the settings read),
//! `faults` (concurrency, 502s, dropped connections, slow answers, seeds) and `demo`
//! (the fixtures, control endpoints, generated users).

use std::time::{Duration, SystemTime};

use crate::util::next_midnight;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use zoom_rotate::simulator::{self, SimConfig, SimHandle};

const TOKEN: &str = "sim-token";
const SAME_AS_OLD: &str = "Your new password can not match the old password.";
const LIMIT_24H: &str = "This password cannot be changed because it has already been changed the maximum number of times over the past 24 hours.";
const QPS_MESSAGE: &str =
    "You have reached the maximum per-second rate limit for this API. Try again later.";
const DAILY_MESSAGE: &str = "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.";

async fn launch(config: SimConfig) -> SimHandle {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `PUT {url}` with the bearer and `{"password": ...}` as JSON; a connection error is
/// the caller's to expect or not.
async fn send_put(url: String, password: &str) -> reqwest::Result<Response> {
    let request = client()
        .put(url)
        .bearer_auth(TOKEN)
        .json(&json!({ "password": password }));
    request.send().await
}

/// `PUT {base}/users/{segment}/password` with a JSON body; `segment` is sent as is.
async fn put_raw(sim: &SimHandle, segment: &str, password: &str) -> Response {
    let url = format!("{}/users/{segment}/password", sim.base_url());
    send_put(url, password).await.unwrap()
}

/// The same, with the user ID or e-mail percent-encoded as one segment.
async fn put(sim: &SimHandle, user: &str, password: &str) -> Response {
    put_raw(
        sim,
        &utf8_percent_encode(user, NON_ALPHANUMERIC).to_string(),
        password,
    )
    .await
}

async fn get_settings(sim: &SimHandle, token: &str) -> Response {
    let url = format!("{}/accounts/me/settings?option=security", sim.base_url());
    client().get(url).bearer_auth(token).send().await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Asserts a Zoom JSON error exactly: status, content type, and the whole body.
async fn assert_error(response: Response, status: u16, code: u32, message: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"code": code, "message": message}));
}

async fn assert_changed(sim: &SimHandle, response: Response, user: &str, password: &str) {
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "content-type"), None);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(sim.user(user).unwrap().current_password, password);
}

/// Moves the clock off the last minute before midnight, so a day boundary cannot fall
/// inside a test that reads the daily count.
fn away_from_midnight(sim: &SimHandle) {
    let now = sim.now();
    if next_midnight(now).duration_since(now).unwrap() < Duration::from_secs(60) {
        sim.advance_clock(Duration::from_secs(120));
    }
}

mod answers;
mod auth;
mod budget;
mod demo;
mod faults;
