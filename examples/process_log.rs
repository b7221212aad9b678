//! A child process's output streamed into a QML list as it comes, with a
//! Stop button that kills the child: `qtloop::process` on the GUI thread.
//!
//! The child is `/bin/sh` printing a numbered line every 50 ms. Its stdout
//! is a non-blocking pipe that the loop waits on (no thread); each line
//! goes to QML as an `AsyncJob` message. Stop posts "stop" to the job,
//! which kills the child and reports how it ended. Headless, it presses
//! Stop after 12 lines and saves a screenshot.

#[path = "common/mod.rs"]
mod common;

use std::rc::Rc;

use cxx_qt_lib::{QString, QVariant};
use futures::io::{AsyncBufReadExt, BufReader};
use futures::{FutureExt, StreamExt};
use qtloop::process::{Command, Stdio};
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

const SCRIPT: &str =
    r#"i=0; while :; do i=$((i+1)); echo "line $i: pid $$ says hello"; sleep 0.05; done"#;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("process_log");
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("tail", |ctx| async move {
        let io = |e: std::io::Error| qtloop::Error::Failed(e.to_string());
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .stdout(Stdio::piped())
            .kill_on_drop(true) // Cancel (or closing the window) kills it too
            .spawn()
            .map_err(io)?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut inbox = ctx.take_inbox().expect("the job's inbox");
        let mut count = 0u32;
        loop {
            futures::select! {
                line = lines.next().fuse() => match line {
                    Some(line) => {
                        count += 1;
                        ctx.send("line", QVariant::from(&QString::from(line.map_err(io)?.as_str())));
                    }
                    None => break, // the child closed its stdout
                },
                msg = inbox.next().fuse() => match msg {
                    Some((kind, _)) if kind == "stop" => child.kill().map_err(io)?,
                    Some(_) => {}
                    None => break,
                },
            }
        }
        let status = child.wait().await.map_err(io)?;
        let text = format!("{count} lines, then the child {}", describe(status));
        Ok::<_, qtloop::Error>(QVariant::from(&QString::from(text.as_str())))
    });

    app.load_source(include_str!("../qml/process_log.qml"), "process_log.qml")?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    let app = Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        while a.property("window", "lines")?.value::<i32>() < Some(12) {
            qtloop::sleep(0.01).await?;
        }
        a.click("stop")?;
        while a.string_property("tail", "status")? != "finished" {
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await // let it render
    })??;
    println!(
        "lines received: {}",
        app.property("window", "lines")?.value::<i32>().unwrap_or(0)
    );
    println!("result: {}", app.string_property("tail", "result")?);
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => status.to_string(),
    }
}
