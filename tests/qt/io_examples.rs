//! The I/O examples, run as a user would, headless, with a look at their
//! screenshots: `process_log` (a child's lines in a list, Stop kills it)
//! and `chat` (a QML chat client, and its server in a process of its own).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use cxx_qt_lib::QImage;

use crate::qml::close_to;

cases!(io_examples:
    process_log_streams_lines_and_stop_kills_the_child,
    chat_window_talks_to_its_own_server,
    chat_window_talks_to_a_server_process,
);

fn shot_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qtloop-shots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.png"))
}

fn load(path: &std::path::Path) -> QImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    QImage::from_data(&bytes, Some("PNG")).expect("a PNG")
}

/// Pixels close to `rgb` in the rectangle.
fn count_close(image: &QImage, rgb: (i32, i32, i32), x0: i32, y0: i32, x1: i32, y1: i32) -> usize {
    let mut n = 0;
    for y in y0..y1.min(image.height()) {
        for x in x0..x1.min(image.width()) {
            let c = image.pixel_color(x, y);
            if close_to((c.red(), c.green(), c.blue()), rgb) {
                n += 1;
            }
        }
    }
    n
}

/// Dark (text) pixels in the rectangle.
fn dark(image: &QImage, x0: i32, y0: i32, x1: i32, y1: i32) -> usize {
    let mut n = 0;
    for y in y0..y1.min(image.height()) {
        for x in x0..x1.min(image.width()) {
            if image.pixel_color(x, y).red() < 90 {
                n += 1;
            }
        }
    }
    n
}

fn process_log_streams_lines_and_stop_kills_the_child() {
    let shot = shot_path("process_log");
    let out =
        crate::embedding::example_with("process_log", &["--screenshot", shot.to_str().unwrap()]);
    assert!(out.contains("lines received: 12"), "{out}");
    assert!(
        out.contains("result: 12 lines, then the child was killed by signal 9"),
        "{out}"
    );
    let image = load(&shot);
    // The list (y 48..288) shows 12 lines of text; the status bar below is green.
    let rows_with_text = (0..12)
        .filter(|i| dark(&image, 20, 56 + i * 16, 300, 56 + i * 16 + 14) > 30)
        .count();
    assert!(
        rows_with_text >= 11,
        "{rows_with_text} of 12 rows show text"
    );
    let green = count_close(&image, (0x2e, 0x7d, 0x32), 16, 298, 504, 328);
    assert!(green > 5000, "the status bar is not green ({green} px)");
}

/// Checks the chat window's screenshot: the "me" bubble (green, right) and
/// the bot's (blue, left).
fn check_chat_shot(image: &QImage) {
    let blue_left = count_close(image, (0x15, 0x65, 0xc0), 16, 48, 260, 300);
    let green_right = count_close(image, (0x2e, 0x7d, 0x32), 260, 48, 504, 300);
    assert!(
        blue_left > 1500,
        "the bot's messages are missing ({blue_left} px)"
    );
    assert!(
        green_right > 1000,
        "our message is missing ({green_right} px)"
    );
}

fn chat_window_talks_to_its_own_server() {
    let shot = shot_path("chat");
    let out = crate::embedding::example_with("chat", &["--screenshot", shot.to_str().unwrap()]);
    assert!(out.contains("messages: 5"), "{out}");
    assert!(out.contains("last: me: hi bot, from QML"), "{out}");
    check_chat_shot(&load(&shot));
}

fn chat_window_talks_to_a_server_process() {
    let mut server = crate::embedding::example_command("chat")
        .args(["--server", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut lines = BufReader::new(server.stdout.take().unwrap());
    lines.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("chat server on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let shot = shot_path("chat-remote");
    let out = crate::embedding::example_with(
        "chat",
        &["--connect", &addr, "--screenshot", shot.to_str().unwrap()],
    );
    assert!(out.contains("messages: 5"), "{out}");
    check_chat_shot(&load(&shot));
    // Ctrl+C stops the server gracefully.
    let pid = rustix::process::Pid::from_child(&server);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = crate::wait_within(&mut server, Duration::from_secs(10), "the chat server");
    assert!(
        status.success(),
        "the server did not stop cleanly: {status}"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).unwrap();
    assert_eq!(rest, "chat server stopped\n");
}
