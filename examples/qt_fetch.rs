//! A button that downloads over HTTP on Qt's own network stack
//! (`qtloop::qt::net::Http`, a `QNetworkAccessManager`), from a QML window.
//!
//! The example starts a small HTTP server on 127.0.0.1 that sends its JSON
//! catalog slowly, in pieces. The `AsyncJob` "fetch" sends the request,
//! drives the progress bar from the reply's progress stream while it reads
//! the body, and fills the list; Cancel drops the reply, which aborts it,
//! and the server sees the connection close. No tokio, no extra thread:
//! Qt's proxy and TLS settings apply. Headless, it starts a fetch, cancels
//! it at 25 %, fetches again to the end, and saves a screenshot.
//!
//! ```sh
//! cargo run --example qt_fetch
//! ```

#[path = "common/mod.rs"]
mod common;
#[path = "common/fetch_window.rs"]
mod fetch_window;
#[path = "common/http.rs"]
mod http;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::qml::{register_job, QmlApp};
use qtloop::qt::net::Http;
use qtloop::EventLoop;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("qt_fetch");
    let (server, url) = fetch_window::serve(&opts);
    let app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("fetch", |ctx| async move {
        let url = ctx
            .argument()
            .value::<QString>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let request = Http::for_this_thread()?
            .get(&url)
            .header("Accept", "application/json");
        let mut progress = request.progress();
        let response = request.send().await?.error_for_status()?;
        // The body and the bar, side by side on this task.
        let bar = async {
            while let Some((received, total)) = progress.next().await {
                if let Some(total) = total.filter(|t| *t > 0) {
                    ctx.set_progress(received as f64 / total as f64);
                }
            }
        };
        let (body, ()) = qtloop::join(response.text(), bar).await;
        Ok::<_, qtloop::Error>(QVariant::from(&QString::from(&*body?)))
    });

    let title = "qtloop: fetch on QNetworkAccessManager";
    fetch_window::run(app, &lp, &opts, &server, &url, title)?;
    lp.close()
}
