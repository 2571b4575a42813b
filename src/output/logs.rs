//! The logs on stderr: the subscriber a command sets up once (text, with the progress bar
//! on a terminal, or one JSON object a line), and [`JsonLog`], the line format of
//! `--log-format json`.

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_indicatif::filter::IndicatifFilter;
use tracing_subscriber::Layer;

/// stderr logging: `RUST_LOG` if set, else info (-v debug, -vv trace) for this crate and
/// warnings for its dependencies. Text shares stderr with the progress bar; JSON writes
/// one object a line ([`JsonLog`]) and never draws a bar. The bar layer draws only the
/// spans that ask for a bar (the monitor's), not every span it sees.
pub fn init(verbose: u8, format: LogFormat, bar: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,zoom_rotate=info",
        1 => "warn,zoom_rotate=debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    let text = || tracing_subscriber::fmt::layer().with_target(false);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonLog)
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Text if bar => {
            let indicatif = tracing_indicatif::IndicatifLayer::new();
            registry
                .with(text().with_writer(indicatif.get_stderr_writer()))
                .with(indicatif.with_filter(IndicatifFilter::new(false)))
                .init()
        }
        LogFormat::Text => registry
            .with(
                text()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

/// The stderr line format of `--log-format json`: one object a line, always with the same
/// four keys a log shipper can rely on, whatever the event carries:
/// `{"timestamp": RFC 3339 UTC, "level": "INFO", "message": "...", "fields": {...},
/// "target": "zoom_rotate::commands::run"}`. The event's own fields stay under `fields`, so none can
/// shadow the four.
pub struct JsonLog;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        writeln!(writer, "{}", json_line(event, std::time::SystemTime::now()))
    }
}

/// One event as its JSON line (without the newline), keys in the order a reader scans.
fn json_line(event: &tracing::Event<'_>, now: std::time::SystemTime) -> String {
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let meta = event.metadata();
    let s = |v: &str| serde_json::Value::from(v).to_string();
    format!(
        "{{\"timestamp\":{},\"level\":{},\"message\":{},\"fields\":{},\"target\":{}}}",
        s(&humantime::format_rfc3339_micros(now).to_string()),
        s(meta.level().as_str()),
        s(fields.message.as_deref().unwrap_or_default()),
        serde_json::Value::Object(fields.fields),
        s(meta.target()),
    )
}

/// Collects an event's fields as JSON values, numbers and booleans kept as such.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl JsonFields {
    fn put(&mut self, field: &tracing::field::Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl tracing::field::Visit for JsonFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.put(field, value.to_string().into());
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// Captures the JSON line of every event logged inside `f`.
    fn json_lines(f: impl FnOnce()) -> Vec<serde_json::Value> {
        use std::sync::Mutex;
        struct Capture(Arc<Mutex<Vec<serde_json::Value>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                let t = std::time::UNIX_EPOCH + Duration::from_micros(1_764_393_077_000_001);
                let line = json_line(event, t);
                assert!(
                    line.starts_with("{\"timestamp\":\"2025-11-29T05:11:17.000001Z\",\"level\":")
                );
                self.0
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        }
        use tracing_subscriber::layer::SubscriberExt;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, f);
        let lines = lines.lock().unwrap().clone();
        lines
    }

    #[test]
    fn json_log_lines_keep_fields_apart_and_typed() {
        let lines = json_lines(|| {
            tracing::info!(rows = 13u64, rate = 20.5, dry_run = false, report = %"r.csv", level = "x", "plan: {} users", 13);
            tracing::warn!(error = ?"boom", "no message fields");
        });
        assert_eq!(
            lines[0],
            serde_json::json!({
                "timestamp": "2025-11-29T05:11:17.000001Z",
                "level": "INFO",
                "message": "plan: 13 users",
                "fields": {"rows": 13, "rate": 20.5, "dry_run": false, "report": "r.csv", "level": "x"},
                "target": "zoom_rotate::output::logs::unit",
            })
        );
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["fields"]["error"], "\"boom\"");
    }
}
