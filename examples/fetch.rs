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
#[path = "common/fetch_window.rs"]
mod fetch_window;
#[path = "common/http.rs"]
mod http;

use cxx_qt_lib::{QString, QVariant};
use qtloop::qml::{register_job, QmlApp};
use qtloop::tokio::compat;
use qtloop::EventLoop;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("fetch");
    let (server, url) = fetch_window::serve(&opts);
    let app = QmlApp::new()?;
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

    fetch_window::run(app, &lp, &opts, &server, &url, "qtloop: fetch")?;
    lp.close()
}
