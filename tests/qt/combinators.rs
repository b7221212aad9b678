//! `race`, `race_all` and `join` with Qt's awaitables: the first of a
//! button click, a network reply and a timeout; the losers are cancelled
//! (the reply aborted, the signal disconnected).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use qtloop::qml::QmlApp;
use qtloop::qt::{self, live_signal_connections, net::Http};
use qtloop::{race, race_all, EventLoop};

use crate::{server, server_count, server_saw_more};

cases!(combinators:
    the_first_of_a_click_a_reply_and_a_timeout,
    race_cancels_the_loser,
    race_all_gives_the_index_and_drops_the_rest,
    join_waits_for_both_concurrently,
    waiting_for_a_click_and_a_silent_server_costs_no_cpu,
);

#[derive(Debug, PartialEq)]
enum First {
    Clicked,
    Replied(u16),
    TimedOut,
}

type Boxed = Pin<Box<dyn Future<Output = First>>>;

const SCENE: &str = r#"
import QtQuick
import QtQuick.Window
import QtQuick.Controls
Window {
    width: 200; height: 80; visible: true
    Button { objectName: "ok"; text: "OK"; width: 100; height: 40 }
}
"#;

/// The three contenders of the README's example.
fn contenders(app: &QmlApp, url: String, secs: f64) -> Vec<Boxed> {
    let mut click = qt::signal(&app.find_object("ok").unwrap(), "clicked()").unwrap();
    let http = Http::for_this_thread().unwrap();
    vec![
        Box::pin(async move {
            click.next().await.unwrap();
            First::Clicked
        }),
        Box::pin(async move { First::Replied(http.get(&url).await.unwrap().status()) }),
        Box::pin(async move {
            qtloop::sleep(secs).await.unwrap();
            First::TimedOut
        }),
    ]
}

/// A server that accepts connections (the kernel's backlog) and never
/// answers: a request to it waits for ever.
fn silent_url() -> String {
    static SILENT: std::sync::OnceLock<std::net::TcpListener> = std::sync::OnceLock::new();
    let l = SILENT.get_or_init(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    format!("http://{}/", l.local_addr().unwrap())
}

fn the_first_of_a_click_a_reply_and_a_timeout() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    app.load_source(SCENE, "race.qml").unwrap();
    let app = Rc::new(app);
    let before = live_signal_connections();
    // The click comes first (the server never answers, the timeout is long).
    let a = app.clone();
    lp.call_later(0.02, move || a.click("ok").unwrap()).unwrap();
    let (i, first) = lp
        .run_until_complete(race_all(contenders(&app, silent_url(), 30.0)))
        .unwrap();
    assert_eq!((i, first), (0, First::Clicked));
    // Nobody clicks: the reply wins.
    let (i, first) = lp
        .run_until_complete(race_all(contenders(&app, server().url("/json"), 30.0)))
        .unwrap();
    assert_eq!((i, first), (1, First::Replied(200)));
    // Nothing answers in time: the timeout wins.
    let t0 = Instant::now();
    let (i, first) = lp
        .run_until_complete(race_all(contenders(&app, silent_url(), 0.05)))
        .unwrap();
    assert_eq!((i, first), (2, First::TimedOut));
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Every loser was dropped: no signal connection is left behind.
    assert_eq!(live_signal_connections(), before, "a loser kept its signal");
    lp.close().unwrap();
}

fn race_cancels_the_loser() {
    let lp = EventLoop::new().unwrap();
    let before = server_count("closed after");
    let r = lp
        .run_until_complete(async {
            let http = Http::new().unwrap();
            race(
                async {
                    let body = http
                        .get(&server().url("/slow?kib=256&delay_ms=20"))
                        .await
                        .unwrap()
                        .bytes()
                        .await;
                    Some(body.map(|b| b.len()))
                },
                async {
                    qtloop::sleep(0.1).await.unwrap();
                    None
                },
            )
            .await
        })
        .unwrap();
    assert_eq!(r, None, "the timer wins");
    assert!(
        server_saw_more("closed after", before),
        "the losing download was not aborted"
    );
    lp.close().unwrap();
}

fn race_all_gives_the_index_and_drops_the_rest() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(std::cell::Cell::new(0));
    struct Count(Rc<std::cell::Cell<u32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let futs: Vec<Pin<Box<dyn Future<Output = u32>>>> = (0..5u32)
        .map(|i| {
            let guard = Count(dropped.clone());
            Box::pin(async move {
                let _g = guard;
                qtloop::sleep(0.01 * f64::from(5 - i)).await.unwrap();
                i
            }) as Pin<Box<dyn Future<Output = u32>>>
        })
        .collect();
    let (index, value) = lp.run_until_complete(race_all(futs)).unwrap();
    assert_eq!((index, value), (4, 4));
    assert_eq!(
        dropped.get(),
        5,
        "the winner and the four losers were dropped"
    );
    lp.close().unwrap();
}

fn join_waits_for_both_concurrently() {
    let lp = EventLoop::new().unwrap();
    let t0 = Instant::now();
    let (a, b) = lp
        .run_until_complete(async {
            let http = Http::for_this_thread().unwrap();
            let url = server().url("/json?chunks=2&delay_ms=1000");
            let fetch = || async { http.get(&url).await.unwrap().bytes().await.unwrap().len() };
            qtloop::join(fetch(), fetch()).await
        })
        .unwrap();
    assert_eq!(a, b);
    assert!(a > 0);
    // Concurrent: well under the 2 s the two would take one after the other.
    assert!(
        t0.elapsed() < Duration::from_millis(1800),
        "{:?}",
        t0.elapsed()
    );
    lp.close().unwrap();
}

fn waiting_for_a_click_and_a_silent_server_costs_no_cpu() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    app.load_source(SCENE, "idle.qml").unwrap();
    // Warm up: the manager and its first connection.
    let http = Http::for_this_thread().unwrap();
    lp.run_until_complete(
        async move { http.get(&server().url("/json")).await.map(|r| r.status()) },
    )
    .unwrap()
    .unwrap();
    let (c0, t0) = (crate::process_cpu(), Instant::now());
    // A click that never comes, a server that never answers, for 0.5 s.
    let (i, first) = lp
        .run_until_complete(race_all(contenders(&app, silent_url(), 0.5)))
        .unwrap();
    let (used, wall) = (crate::process_cpu() - c0, t0.elapsed());
    assert_eq!((i, first), (2, First::TimedOut));
    assert!(wall >= Duration::from_millis(500), "{wall:?}");
    assert!(
        used < Duration::from_millis(60),
        "{used:?} of CPU in {wall:?} of waiting"
    );
    lp.close().unwrap();
}
