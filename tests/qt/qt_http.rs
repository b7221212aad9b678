//! `qt::net::Http` on Qt's QNetworkAccessManager against a real HTTP
//! server on 127.0.0.1: GET/POST/PUT/DELETE, progress in order, an abort
//! the server sees, 404, refused, a transfer timeout, and the manager
//! destroyed mid-await.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use qtloop::qt::net::Http;
use qtloop::{Error, EventLoop};

use crate::{http, server, server_count as count, server_saw_more};

cases!(qt_http:
    get_post_put_and_delete,
    a_slow_download_reports_progress_in_order,
    an_upload_reports_its_progress,
    dropping_the_response_aborts_and_the_server_sees_it,
    a_404_is_a_response_and_error_for_status_fails,
    refused_is_a_network_error_with_qts_code,
    a_transfer_timeout_fails_the_body,
    the_managers_destruction_mid_await_fails_the_request,
    one_manager_per_thread,
    qt_fetch_example_cancels_then_fills_the_list,
);

fn get_post_put_and_delete() {
    let lp = EventLoop::new().unwrap();
    let (json, echo, put, delete) = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let resp = http
                .get(&server().url("/json"))
                .header("Accept", "application/json")
                .await?;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.reason(), "OK");
            assert_eq!(resp.header("content-type"), Some("application/json"));
            let json = resp.text().await?;
            let resp = http
                .post(&server().url("/echo"), "hello qt")
                .header("Content-Type", "text/plain")
                .send()
                .await?;
            let method = resp.header("X-Echo-Method").map(str::to_owned);
            let echo = (method, resp.bytes().await?);
            let put = http.put(&server().url("/echo"), vec![1u8, 2, 3]).await?;
            let put = (
                put.header("X-Echo-Method").map(str::to_owned),
                put.bytes().await?,
            );
            let delete = http.delete(&server().url("/echo")).await?;
            let delete = delete.header("X-Echo-Method").map(str::to_owned);
            Ok::<_, Error>((json, echo, put, delete))
        })
        .unwrap()
        .unwrap();
    assert_eq!(json, http::catalog());
    assert_eq!(echo, (Some("POST".into()), b"hello qt".to_vec()));
    assert_eq!(put, (Some("PUT".into()), vec![1, 2, 3]));
    assert_eq!(delete.as_deref(), Some("DELETE"));
    lp.close().unwrap();
}

fn a_slow_download_reports_progress_in_order() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let (chunks, size) = lp
        .run_until_complete(async move {
            let http = Http::new()?;
            let request = http.get(&server().url("/slow?kib=32&delay_ms=10"));
            let mut progress = request.progress();
            let watcher = qtloop::spawn_local(async move {
                while let Some(p) = progress.next().await {
                    s.borrow_mut().push(p);
                }
            });
            let mut body = request.send().await?.chunks();
            let (mut n, mut size) = (0, 0);
            while let Some(chunk) = body.next().await {
                n += 1;
                size += chunk?.len();
            }
            watcher.await.unwrap();
            Ok::<_, Error>((n, size))
        })
        .unwrap()
        .unwrap();
    assert_eq!(size, 32 * 1024);
    assert!(chunks > 3, "the body came in {chunks} chunks");
    let seen = seen.borrow();
    assert!(seen.len() > 3, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0].0 <= w[1].0),
        "in order: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&(32 * 1024, Some(32 * 1024))));
    lp.close().unwrap();
}

fn an_upload_reports_its_progress() {
    let lp = EventLoop::new().unwrap();
    let body = vec![7u8; 512 * 1024];
    let (last, echoed) = lp
        .run_until_complete(async move {
            let http = Http::new()?;
            let request = http.post(&server().url("/echo"), body);
            let progress = request.upload_progress();
            let watcher = qtloop::spawn_local(progress.collect::<Vec<_>>());
            let echoed = request.send().await?.bytes().await?.len();
            let seen = watcher.await.unwrap();
            assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
            Ok::<_, Error>((seen.last().copied(), echoed))
        })
        .unwrap()
        .unwrap();
    assert_eq!(echoed, 512 * 1024);
    assert_eq!(last, Some((512 * 1024, Some(512 * 1024))));
    lp.close().unwrap();
}

fn dropping_the_response_aborts_and_the_server_sees_it() {
    let lp = EventLoop::new().unwrap();
    let before = count("closed after");
    lp.run_until_complete(async {
        let http = Http::new()?;
        let mut body = http
            .get(&server().url("/slow?kib=256&delay_ms=20"))
            .await?
            .chunks();
        let first = body.next().await.unwrap()?;
        assert!(!first.is_empty());
        drop(body); // aborts the reply: Qt closes the connection
        Ok::<_, Error>(())
    })
    .unwrap()
    .unwrap();
    assert!(
        server_saw_more("closed after", before),
        "the server never saw the connection close"
    );
    // The dropped future of `send` aborts too, before any header came.
    let before = count("closed after");
    lp.run_until_complete(async {
        let http = Http::new()?;
        // The headers come at once here: the drop happens mid-body.
        let r = qtloop::timeout(0.05, async {
            http.get(&server().url("/slow?kib=256&delay_ms=20"))
                .await?
                .bytes()
                .await
        })
        .await;
        assert!(r.is_err(), "timed out");
        Ok::<_, Error>(())
    })
    .unwrap()
    .unwrap();
    assert!(
        server_saw_more("closed after", before),
        "the server never saw the second close"
    );
    lp.close().unwrap();
}

fn a_404_is_a_response_and_error_for_status_fails() {
    let lp = EventLoop::new().unwrap();
    let (status, body, err) = lp
        .run_until_complete(async {
            let http = Http::for_this_thread()?;
            let resp = http.get(&server().url("/no/such/page")).await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let err = http
                .get(&server().url("/no/such/page"))
                .await?
                .error_for_status()
                .unwrap_err();
            Ok::<_, Error>((status, body, err))
        })
        .unwrap()
        .unwrap();
    assert_eq!(status, 404);
    assert!(body.is_empty());
    assert_eq!(
        err,
        Error::HttpStatus {
            status: 404,
            reason: "Not Found".into()
        }
    );
    assert_eq!(err.to_string(), "HTTP 404 Not Found");
    lp.close().unwrap();
}

fn refused_is_a_network_error_with_qts_code() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed: nobody listens there now
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(async move {
            let http = Http::new()?;
            http.get(&format!("http://127.0.0.1:{port}/"))
                .await
                .map(|_| ())
        })
        .unwrap();
    match r {
        Err(Error::Network { code, message }) => {
            assert_eq!(code, 1, "QNetworkReply::ConnectionRefusedError");
            assert!(message.to_lowercase().contains("refused"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    lp.close().unwrap();
}

fn a_transfer_timeout_fails_the_body() {
    let lp = EventLoop::new().unwrap();
    let t0 = Instant::now();
    let r = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let resp = http
                .get(&server().url("/json?chunks=4&delay_ms=3000"))
                .timeout(Duration::from_millis(100))
                .await?;
            assert_eq!(resp.status(), 200);
            resp.bytes().await
        })
        .unwrap();
    assert!(
        matches!(r, Err(Error::Network { code: 4 | 5, .. })),
        "{r:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    lp.close().unwrap();
}

fn the_managers_destruction_mid_await_fails_the_request() {
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let resp = http.get(&server().url("/slow?kib=256&delay_ms=20")).await?;
            let body = qtloop::spawn_local(resp.bytes());
            qtloop::sleep(0.05).await?;
            drop(http); // the last clone: Qt destroys the manager and its replies
            Ok::<_, Error>(qtloop::timeout(10.0, body).await)
        })
        .unwrap()
        .unwrap();
    let body = r.expect("the body ended within 10 s").unwrap();
    assert!(
        matches!(
            body,
            Err(Error::ObjectDestroyed) | Err(Error::Network { code: 5, .. })
        ),
        "{body:?}"
    );
    // Before the headers: the pending send fails the same way.
    let r = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let pending =
                qtloop::spawn_local(http.get(&server().url("/json?chunks=2&delay_ms=0")).send());
            drop(http);
            Ok::<_, Error>(qtloop::timeout(10.0, pending).await)
        })
        .unwrap()
        .unwrap();
    let sent = r.expect("ended within 10 s").unwrap();
    assert!(sent.is_err(), "{sent:?}");
    lp.close().unwrap();
}

fn one_manager_per_thread() {
    let lp = EventLoop::new().unwrap();
    let a = Http::for_this_thread().unwrap();
    let b = Http::for_this_thread().unwrap();
    let text = format!("{a:?}");
    assert!(text.contains("clones"), "{text}");
    drop(b);
    let ok = lp
        .run_until_complete(async move { a.get(&server().url("/json")).await.map(|r| r.status()) })
        .unwrap()
        .unwrap();
    assert_eq!(ok, 200);
    lp.close().unwrap();
}

fn qt_fetch_example_cancels_then_fills_the_list() {
    check_fetch_example("qt_fetch");
}

/// Runs a fetch example (reqwest's or Qt's) headless and checks its log,
/// its server and its screenshot: one cancelled fetch, one to the end.
pub fn check_fetch_example(name: &str) {
    use crate::qml::{close_to, rgb_at, run_gui_example};
    let (out, image) = run_gui_example(name, "20");
    assert!(out.contains("log: cancelled;finished;"), "{out}");
    // The cancelled request hung up on the server mid-body.
    assert!(out.contains("server: closed after"), "{out}");
    assert!(out.contains("server: 2 requests"), "{out}");
    let (green, red) = ((0x2e, 0x7d, 0x32), (0xc6, 0x28, 0x28));
    // The progress bar is full and green.
    for x in [130, 250, 370] {
        assert!(close_to(rgb_at(&image, x, 93), green), "bar at {x}");
    }
    // The catalog's eight rows: online green, offline red (3 and 6).
    for row in 0..8 {
        let want = if row % 3 == 2 { red } else { green };
        let got = rgb_at(&image, 27, 127 + 30 * row);
        assert!(close_to(got, want), "row {row}: {got:?}");
    }
}
