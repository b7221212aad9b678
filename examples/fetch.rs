//! A button that fetches JSON over HTTP with reqwest, from a QML window,
//! through qtloop's tokio bridge (feature `tokio`).
//!
//! The example starts a small HTTP server on 127.0.0.1 that sends its JSON
//! catalog slowly, in pieces, so the progress bar moves. The `AsyncJob`
//! "fetch" awaits `reqwest` inside `qtloop::tokio::compat` on the GUI
//! thread and reports progress per chunk; Cancel drops the request, and the
//! server sees the connection close. Headless, it starts a fetch, cancels
//! it at 25 %, fetches again to the end, and saves a screenshot.
//!
//! ```sh
//! cargo run --features tokio --example fetch
//! ```

#[path = "common/mod.rs"]
mod common;
#[path = "common/http.rs"]
mod http;

use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use qtloop::qml::{register_job, QmlApp};
use qtloop::tokio::compat;
use qtloop::EventLoop;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("fetch");
    let tick = opts.tick.unwrap_or(Duration::from_millis(60));
    let server = http::Server::start();
    let url = server.url(&format!("/json?chunks=20&delay_ms={}", tick.as_millis()));
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("fetch", |ctx| async move {
        let url: String = ctx
            .argument()
            .value::<QString>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        // reqwest needs tokio's context: compat gives it, on this thread.
        let body = compat(async {
            let mut resp = reqwest::get(&url).await?.error_for_status()?;
            let total = resp.content_length().unwrap_or(0).max(1) as f64;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                body.extend_from_slice(&chunk);
                ctx.set_progress(body.len() as f64 / total);
            }
            Ok::<_, reqwest::Error>(body)
        })
        .await
        .map_err(|e| qtloop::Error::Failed(format!("fetching {url}: {e}")))?;
        let text = String::from_utf8_lossy(&body);
        Ok::<_, qtloop::Error>(QVariant::from(&QString::from(&*text)))
    });

    app.load_source(include_str!("../qml/fetch.qml"), "fetch.qml")?;
    app.set_property(
        "window",
        "url",
        &QVariant::from(&QString::from(url.as_str())),
    )?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    let app = Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        let progress = |a: &QmlApp| {
            a.property("fetch", "progress")
                .ok()
                .and_then(|p| p.value::<f64>())
                .unwrap_or(0.0)
        };
        // A user presses Fetch, changes their mind at 25 %, then fetches
        // again and waits.
        a.click("button")?;
        while progress(&a) < 0.25 {
            qtloop::sleep(0.005).await?;
        }
        a.click("button")?;
        a.click("button")?;
        while !a.string_property("window", "log")?.contains("finished") {
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await
    })??;
    println!("log: {}", app.string_property("window", "log")?);
    let closed = server.wait_for("closed after", Duration::from_secs(5));
    println!("server: {}", closed.as_deref().unwrap_or("no hang-up seen"));
    println!(
        "server: {} requests",
        server
            .events()
            .iter()
            .filter(|e| e.starts_with("GET"))
            .count()
    );
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
