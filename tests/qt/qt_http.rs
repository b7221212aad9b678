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
    redirects_give_the_final_answer_and_head_has_no_body,
    every_http_status_is_a_response,
    every_progress_stream_sees_every_event,
    a_bad_header_or_method_is_refused,
    a_slow_reader_holds_the_server_back,
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
            http.close(); // Qt destroys the manager and its replies
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
            http.close();
            assert!(http.is_closed());
            assert!(matches!(
                http.get("http://127.0.0.1:1/").await,
                Err(Error::Closed)
            ));
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

fn redirects_give_the_final_answer_and_head_has_no_body() {
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        // A temporary manager: the request keeps it alive.
        let resp = Http::new()?.get(&server().url("/redirect?n=2")).await?;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.header("X-Final"), Some("yes"));
        assert_eq!(resp.header("X-Hop"), None);
        assert_eq!(resp.text().await?, "done");
        // A zero timeout is none; a redirect loop is Qt's error 10, not a 302.
        let looped = Http::new()?
            .get(&server().url("/redirect?n=60"))
            .timeout(std::time::Duration::ZERO)
            .await;
        assert!(
            matches!(looped, Err(Error::Network { code: 10, .. })),
            "{looped:?}"
        );
        let head = qtloop::timeout(10.0, async {
            let resp = Http::for_this_thread()?
                .request("HEAD", &server().url("/json"))
                .await?;
            let length = resp.header("Content-Length").map(str::to_owned);
            Ok::<_, Error>((length, resp.bytes().await?))
        })
        .await
        .expect("HEAD ended: it has no body to wait for")?;
        assert_eq!(head.0, Some(http::catalog().len().to_string()));
        assert!(head.1.is_empty());
        Ok::<_, Error>(())
    })
    .unwrap()
    .unwrap();
    lp.close().unwrap();
}

fn every_http_status_is_a_response() {
    let lp = EventLoop::new().unwrap();
    for code in [400u16, 401, 403, 404, 407, 418, 500, 503] {
        let (status, body) = lp
            .run_until_complete(async move {
                let http = Http::for_this_thread()?;
                let resp = http
                    .get(&server().url(&format!("/status?code={code}")))
                    .await?;
                Ok::<_, Error>((resp.status(), resp.text().await?))
            })
            .unwrap()
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!((status, body.as_str()), (code, "status"));
    }
    lp.close().unwrap();
}

fn every_progress_stream_sees_every_event() {
    let lp = EventLoop::new().unwrap();
    let (a, b, c, unsent) = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let request = http.get(&server().url("/slow?kib=32&delay_ms=10"));
            let a = qtloop::spawn_local(request.progress().collect::<Vec<_>>());
            let resp = request.send().await?;
            let b = qtloop::spawn_local(resp.progress().collect::<Vec<_>>());
            let c = qtloop::spawn_local(resp.progress().collect::<Vec<_>>());
            resp.bytes().await?;
            // A request never sent: its progress ends at once.
            let never = http.get(&server().url("/json"));
            let p = never.progress();
            drop(never);
            let unsent = qtloop::timeout(5.0, p.collect::<Vec<_>>()).await;
            Ok::<_, Error>((a.await.unwrap(), b.await.unwrap(), c.await.unwrap(), unsent))
        })
        .unwrap()
        .unwrap();
    assert_eq!(a.last(), Some(&(32 * 1024, Some(32 * 1024))), "{a:?}");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(unsent.expect("ended"), vec![]);
    lp.close().unwrap();
}

fn a_bad_header_or_method_is_refused() {
    let lp = EventLoop::new().unwrap();
    let before = count("GET /echo");
    let results = lp
        .run_until_complete(async {
            let http = Http::new()?;
            let url = server().url("/echo");
            let mut out = Vec::new();
            for r in [
                http.get(&url).header("X-A", "1\r\nX-Injected: yes"),
                http.get(&url).header("X-B\r\nX-Injected: yes", "2"),
                http.get(&url).header("", "2"),
                http.request("GET /echo HTTP/1.1\r\nX: 1\r\n\r\nGET", &url),
                http.request("", &url),
            ] {
                out.push(r.await.map(|r| r.status()));
            }
            Ok::<_, Error>(out)
        })
        .unwrap()
        .unwrap();
    for r in results {
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    }
    assert_eq!(count("GET /echo"), before, "nothing reached the server");
    lp.close().unwrap();
}

fn a_slow_reader_holds_the_server_back() {
    let lp = EventLoop::new().unwrap();
    let before = count("completed /slow");
    let size = lp
        .run_until_complete(async move {
            let http = Http::new()?;
            // 64 MiB as fast as the server can write it.
            let mut body = http
                .get(&server().url("/slow?kib=65536&delay_ms=0"))
                .await?
                .chunks();
            let first = body.next().await.unwrap()?.len();
            // The reader pauses: Qt's buffer fills, Qt stops reading the
            // socket, and the server cannot finish.
            qtloop::sleep(1.0).await?;
            assert_eq!(
                count("completed /slow"),
                before,
                "the body was not held back"
            );
            let mut size = first;
            while let Some(chunk) = body.next().await {
                size += chunk?.len();
            }
            Ok::<_, Error>(size)
        })
        .unwrap()
        .unwrap();
    assert_eq!(size, 64 << 20);
    assert!(server_saw_more("completed /slow", before));
    lp.close().unwrap();
}
