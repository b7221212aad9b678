//! The seed's client for `foo_service`: subscribes to `onBang`, calls
//! `bang`, then shows that `bar` and `betterBar` answer the same while
//! only `bar` holds the service's thread: three `betterBar` calls at once
//! take one delay, three `bar` calls take three.
//!
//! ```text
//! cargo run --features dbus --example foo_service &
//! cargo run --features dbus --example foo_client
//! ```

use std::time::Instant;

use futures::future::join_all;
use qtloop::service;

async fn client() -> qtloop::Result<()> {
    let proxy = service::service("org.qtloop.Foo").await?;

    // A qi::Signal delivered on this loop's thread, as libqi's `connect`.
    let on_bang = proxy.signal::<i32>("onBang").await?;
    on_bang.connect(|i| println!("bang: {i}"));
    // Listen before calling: the signal may come before the reply.
    let (bangs, _) = futures::join!(proxy.call::<u32>("bang", &()), on_bang.next());
    println!("bang called ({} so far)", bangs?);

    // Both give the delay back; the caller cannot tell them apart...
    let delay: u32 = proxy.call("bar", &()).await?;
    println!("bar() = {delay}");
    let delay: u32 = proxy.call("betterBar", &()).await?;
    println!("betterBar() = {delay}");
    // ... nor in libqi's future form.
    let fut = proxy.call_future::<(), u32>("betterBar", ());
    println!("qi future: betterBar() = {}", fut.await?);

    // ... but `bar` holds the service's thread and `betterBar` does not.
    for method in ["betterBar", "bar"] {
        let start = Instant::now();
        let calls = (0..3).map(|_| proxy.call::<u32>(method, &()));
        let answers: Vec<u32> = join_all(calls)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        println!(
            "3 x {method}() at once: {answers:?} in {:.1} delays",
            start.elapsed().as_millis() as f64 / f64::from(delay)
        );
    }
    Ok(())
}

fn main() -> qtloop::Result<()> {
    qtloop::run(client())?
}
