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
#[path = "common/http.rs"]
mod http;

use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::qml::{register_job, QmlApp};
use qtloop::qt::net::Http;
use qtloop::EventLoop;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("qt_fetch");
    let tick = opts.tick.unwrap_or(Duration::from_millis(60));
    let server = http::Server::start();
    let url = server.url(&format!("/json?chunks=20&delay_ms={}", tick.as_millis()));
    let mut app = QmlApp::new()?;
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

    app.load_source(include_str!("../qml/fetch.qml"), "fetch.qml")?;
    app.set_property(
        "window",
        "url",
        &QVariant::from(&QString::from(url.as_str())),
    )?;
    app.set_property(
        "window",
        "title",
        &QVariant::from(&QString::from("qtloop: fetch on QNetworkAccessManager")),
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
            if a.string_property("window", "log")?.contains("failed") {
                break;
            }
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
