//! asyncio's `call_at` example: calls scheduled for loop times (the loop's
//! monotonic clock, not the wall clock).

use std::time::{SystemTime, UNIX_EPOCH};

use qtloop::EventLoop;

fn callback(n: i32, lp: &EventLoop) {
    println!("callback {n} invoked at {}", lp.time());
}

async fn main_task(lp: EventLoop) -> qtloop::Result<()> {
    let now = lp.time();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    println!("clock time: {}", wall.as_secs_f64());
    println!("loop time: {now}");
    println!("registering callbacks");
    let l = lp.clone();
    lp.call_at(now + 0.2, move || callback(1, &l))?;
    let l = lp.clone();
    lp.call_at(now + 0.1, move || callback(2, &l))?;
    let l = lp.clone();
    lp.call_soon(move || callback(3, &l))?;
    qtloop::sleep(1.0).await
}

fn main() -> qtloop::Result<()> {
    let event_loop = EventLoop::new()?;
    println!("entering event loop");
    let result = event_loop.run_until_complete(main_task(event_loop.clone()));
    println!("closing event loop");
    event_loop.close()?;
    result?
}
