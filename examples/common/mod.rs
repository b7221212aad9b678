//! What the GUI examples share: their command line, and showing the window
//! or running offscreen until the work is done and saving a screenshot.

#![allow(dead_code)] // each example uses a part

use std::path::PathBuf;
use std::time::Duration;

/// `--tick-ms N`, `--screenshot PATH`, `--exit-when-done`, and for the
/// chat example `--server ADDR` / `--connect ADDR`.
pub struct Options {
    pub tick: Option<Duration>,
    pub screenshot: PathBuf,
    pub exit_when_done: bool,
    pub headless: bool,
    pub server: Option<String>,
    pub connect: Option<String>,
}

impl Options {
    /// Parses the command line; `name` picks the default screenshot path.
    /// Without a display (no `DISPLAY`/`WAYLAND_DISPLAY`) Qt's offscreen
    /// platform is used and the example exits when its work is done.
    pub fn parse(name: &str) -> Options {
        let headless = qtloop::qml::use_offscreen_if_no_display();
        let mut o = Options {
            tick: None,
            screenshot: PathBuf::from(format!("target/screenshots/{name}.png")),
            exit_when_done: headless,
            headless,
            server: None,
            connect: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--tick-ms" => {
                    let ms = args.next().and_then(|v| v.parse::<u64>().ok());
                    o.tick = Some(Duration::from_millis(ms.unwrap_or_else(|| usage(name))));
                }
                "--screenshot" => {
                    o.screenshot = PathBuf::from(args.next().unwrap_or_else(|| usage(name)))
                }
                "--exit-when-done" => o.exit_when_done = true,
                "--server" => o.server = Some(args.next().unwrap_or_else(|| usage(name))),
                "--connect" => o.connect = Some(args.next().unwrap_or_else(|| usage(name))),
                _ => usage(name),
            }
        }
        o
    }

    /// The screenshot path, absolute, for messages.
    pub fn screenshot_display(&self) -> String {
        std::path::absolute(&self.screenshot)
            .unwrap_or_else(|_| self.screenshot.clone())
            .display()
            .to_string()
    }
}

/// With a display (and no `--exit-when-done`): runs Qt's own `exec()`
/// until the user closes the window, closes the loop, and returns its
/// outcome. Headless: `None`, the example drives itself.
pub fn run_windowed(opts: &Options, lp: &qtloop::EventLoop) -> Option<qtloop::Result<()>> {
    if opts.exit_when_done {
        return None;
    }
    Some(qtloop::qt::exec().and_then(|_| lp.close()))
}

fn usage(name: &str) -> ! {
    eprintln!("usage: {name} [--tick-ms N] [--screenshot PATH] [--exit-when-done] [--server ADDR | --connect ADDR]");
    std::process::exit(2)
}
