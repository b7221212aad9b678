//! A line-based chat on localhost: a QML window that is a chat client,
//! and (with `--server ADDR`) the server it talks to, both on qtloop's
//! sockets (`qtloop::net`) on the GUI thread.
//!
//! ```text
//! cargo run --example chat -- --server 127.0.0.1:7070     # a server, in a terminal
//! cargo run --example chat -- --connect 127.0.0.1:7070    # a window per user
//! ```
//!
//! Without `--connect` the window starts a server of its own on a free
//! port. The protocol: a client's first line is its name; every later line
//! is sent to everyone as `name: text`. Messages appear as they arrive
//! while the UI stays live. Headless, a bot joins and chats, the window
//! sends a message through its text field, and a screenshot is saved.

#[path = "common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use cxx_qt_lib::{QString, QVariant};
use futures::channel::mpsc;
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::{FutureExt, StreamExt};
use qtloop::net::{TcpListener, TcpStream};
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

type Clients = Rc<RefCell<Vec<mpsc::UnboundedSender<String>>>>;

/// The server: one task per client; each client's lines go to everyone.
async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let clients: Clients = Rc::default();
    loop {
        let (conn, _) = listener.accept().await?;
        let clients = clients.clone();
        qtloop::spawn_local(async move {
            let (r, mut w) = conn.into_split();
            let (tx, mut outbox) = mpsc::unbounded::<String>();
            // This client's writer: what others say, in order.
            qtloop::spawn_local(async move {
                while let Some(line) = outbox.next().await {
                    if w.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
            let mut lines = BufReader::new(r).lines();
            let name = match lines.next().await {
                Some(Ok(name)) => name,
                _ => return,
            };
            clients.borrow_mut().push(tx);
            let say = |text: String| {
                clients
                    .borrow_mut()
                    .retain(|c| c.unbounded_send(text.clone()).is_ok());
            };
            say(format!("* {name} joined\n"));
            while let Some(Ok(line)) = lines.next().await {
                say(format!("{name}: {line}\n"));
            }
            say(format!("* {name} left\n"));
        });
    }
}

/// A client that says `lines`, one every 150 ms (the headless demo's bot).
async fn bot(addr: SocketAddr, lines: &'static [&'static str]) -> std::io::Result<()> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.write_all(b"bot\n").await?;
    for line in lines {
        qtloop::sleep(0.15).await.map_err(std::io::Error::other)?;
        conn.write_all(format!("{line}\n").as_bytes()).await?;
    }
    qtloop::sleep(3.0).await.map_err(std::io::Error::other)?;
    Ok(())
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("chat");
    if let Some(addr) = opts.server.clone() {
        // The server alone, in a terminal; Ctrl+C stops it.
        let options = qtloop::RunOptions {
            handle_sigint: true,
            ..Default::default()
        };
        let served = qtloop::run_with(
            async move {
                let listener = TcpListener::bind(addr.as_str()).await?;
                println!("chat server on {}", listener.local_addr()?);
                serve(listener).await
            },
            options,
        );
        return match served {
            Err(qtloop::Error::StoppedBeforeComplete) => {
                println!("chat server stopped");
                Ok(())
            }
            Err(e) => Err(e),
            Ok(r) => r.map_err(|e| qtloop::Error::Failed(e.to_string())),
        };
    }
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;
    let addr: SocketAddr = match &opts.connect {
        Some(a) => a
            .parse()
            .map_err(|e| qtloop::Error::InvalidArgument(format!("{a}: {e}")))?,
        None => {
            let listener = lp
                .run_until_complete(TcpListener::bind("127.0.0.1:0"))?
                .map_err(|e| qtloop::Error::Failed(e.to_string()))?;
            let addr = listener
                .local_addr()
                .map_err(|e| qtloop::Error::Failed(e.to_string()))?;
            lp.create_task(serve(listener));
            addr
        }
    };

    register_job("chat", move |ctx| async move {
        let io = |e: std::io::Error| qtloop::Error::Failed(e.to_string());
        let name = ctx
            .argument()
            .value::<QString>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let conn = TcpStream::connect(addr).await.map_err(io)?;
        ctx.send(
            "connected",
            QVariant::from(&QString::from(addr.to_string().as_str())),
        );
        let (r, mut w) = conn.into_split();
        w.write_all(format!("{name}\n").as_bytes())
            .await
            .map_err(io)?;
        let mut lines = BufReader::new(r).lines();
        let mut inbox = ctx.take_inbox().expect("the job's inbox");
        loop {
            futures::select! {
                line = lines.next().fuse() => match line {
                    Some(line) => ctx.send("line", QVariant::from(&QString::from(line.map_err(io)?.as_str()))),
                    None => return Err(qtloop::Error::Failed("the server closed the connection".into())),
                },
                msg = inbox.next().fuse() => match msg {
                    Some((kind, text)) if kind == "say" => {
                        let text = text.value::<QString>().map(|s| s.to_string()).unwrap_or_default();
                        w.write_all(format!("{text}\n").as_bytes()).await.map_err(io)?;
                    }
                    Some(_) => {}
                    None => return Ok(QVariant::default()),
                },
            }
        }
    });

    app.load_source(include_str!("../qml/chat.qml"), "chat.qml")?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    // Headless: a bot chats, and the window's user answers.
    lp.create_task(bot(
        addr,
        &[
            "hello from the bot",
            "the loop is Qt's own",
            "sockets, no threads",
        ],
    ));
    let app = Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        while a.property("window", "messages")?.value::<i32>() < Some(4) {
            qtloop::sleep(0.01).await?;
        }
        a.set_property(
            "input",
            "text",
            &QVariant::from(&QString::from("hi bot, from QML")),
        )?;
        a.click("send")?;
        while a.property("window", "messages")?.value::<i32>() < Some(5) {
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await // let it render
    })??;
    println!(
        "messages: {}",
        app.property("window", "messages")?
            .value::<i32>()
            .unwrap_or(0)
    );
    println!(
        "last: {}",
        app.evaluate("window", "log.get(log.count - 1).text")?
            .value::<QString>()
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
