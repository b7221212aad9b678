//! asyncio's `call_later` example: "soon" runs before any delayed call,
//! and delayed calls run by deadline (prints 3, 2, 1).

use qtloop::EventLoop;

fn callback(n: i32) {
    println!("callback {n} invoked");
}

async fn main_task(lp: EventLoop) -> qtloop::Result<()> {
    println!("registering callbacks");
    lp.call_later(0.2, || callback(1))?;
    lp.call_later(0.1, || callback(2))?;
    lp.call_soon(|| callback(3))?;
    qtloop::sleep(0.4).await
}

fn main() -> qtloop::Result<()> {
    let event_loop = EventLoop::new()?;
    println!("entering event loop");
    let result = event_loop.run_until_complete(main_task(event_loop.clone()));
    println!("closing event loop");
    event_loop.close()?;
    result?
}
