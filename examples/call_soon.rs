//! asyncio's `call_soon` example (PyMOTW "Scheduling a Callback Soon"):
//! callbacks run in the order they were scheduled.

use qtloop::EventLoop;

fn callback(arg: i32, kwarg: &str) {
    println!("callback invoked with {arg} and {kwarg}");
}

async fn main_task(lp: EventLoop) -> qtloop::Result<()> {
    println!("registering callbacks");
    lp.call_soon(|| callback(1, "default"))?;
    lp.call_soon(|| callback(2, "not default"))?;
    qtloop::sleep(0.1).await
}

fn main() -> qtloop::Result<()> {
    let event_loop = EventLoop::new()?;
    println!("entering event loop");
    let result = event_loop.run_until_complete(main_task(event_loop.clone()));
    println!("closing event loop");
    event_loop.close()?;
    result?
}
