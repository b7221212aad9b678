//! The fetch window shared by `fetch` (reqwest on the tokio bridge) and
//! `qt_fetch` (Qt's QNetworkAccessManager): each registers its own
//! `AsyncJob` "fetch", and this module does the rest. Headless, a user
//! presses Fetch, changes their mind at 25 %, fetches again to the end, and
//! the window is saved as a screenshot.

use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use qtloop::qml::QmlApp;
use qtloop::EventLoop;

use super::common::{run_windowed, Options};
use super::http::Server;

/// Starts the example's server and returns it with the catalog's URL
/// (sent slowly, in pieces, so the progress bar has something to show).
pub fn serve(opts: &Options) -> (Server, String) {
    let tick = opts.tick.unwrap_or(Duration::from_millis(60));
    let server = Server::start();
    let url = server.url(&format!("/json?chunks=20&delay_ms={}", tick.as_millis()));
    (server, url)
}

/// Loads the window (titled `title`) for `url`, then runs it: in a real
/// window when there is a display, else the headless scenario.
pub fn run(
    mut app: QmlApp,
    lp: &EventLoop,
    opts: &Options,
    server: &Server,
    url: &str,
    title: &str,
) -> qtloop::Result<()> {
    app.load_source(include_str!("../../qml/fetch.qml"), "fetch.qml")?;
    let text = |s: &str| QVariant::from(&QString::from(s));
    app.set_property("window", "url", &text(url))?;
    app.set_property("window", "title", &text(title))?;
    if let Some(done) = run_windowed(opts, lp) {
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
        a.click("button")?;
        while progress(&a) < 0.25 {
            qtloop::sleep(0.005).await?;
        }
        a.click("button")?;
        a.click("button")?;
        loop {
            let log = a.string_property("window", "log")?;
            if log.contains("finished") || log.contains("failed") {
                break;
            }
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await
    })??;
    println!("log: {}", app.string_property("window", "log")?);
    let closed = server.wait_for("closed after", Duration::from_secs(5));
    println!("server: {}", closed.as_deref().unwrap_or("no hang-up seen"));
    let requests = server
        .events()
        .iter()
        .filter(|e| e.starts_with("GET"))
        .count();
    println!("server: {requests} requests");
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    Ok(())
}
