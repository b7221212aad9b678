//! smol's crates on the loop, instead of our own: async-channel,
//! async-lock, event-listener (pure futures: they work on any executor)
//! and async-net (its sockets run on async-io's own reactor thread, whose
//! wake-ups reach the loop like any other thread's).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use qtloop::EventLoop;

cases!(ecosystem:
    async_channel_between_threads_and_tasks,
    async_lock_mutex_rwlock_and_semaphore,
    event_listener_wakes_a_loop_task,
    async_net_echo_on_the_loop,
);

fn async_channel_between_threads_and_tasks() {
    let lp = EventLoop::new().unwrap();
    let (tx, rx) = async_channel::bounded::<u32>(2);
    std::thread::spawn(move || {
        for i in 0..100 {
            tx.send_blocking(i).unwrap();
        }
    });
    let sum = lp
        .run_until_complete(async move {
            let mut sum = 0;
            while let Ok(i) = rx.recv().await {
                sum += i;
            }
            sum
        })
        .unwrap();
    assert_eq!(sum, 4950);
    lp.close().unwrap();
}

fn async_lock_mutex_rwlock_and_semaphore() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let lock = Rc::new(async_lock::Mutex::new(0u32));
    let sem = Rc::new(async_lock::Semaphore::new(2));
    let peak = Rc::new(RefCell::new((0u32, 0u32)));
    let mut tasks = Vec::new();
    for i in 0..6u32 {
        let (lock, sem, peak, log) = (lock.clone(), sem.clone(), peak.clone(), log.clone());
        tasks.push(lp.create_task(async move {
            let _permit = sem.acquire().await;
            {
                let mut p = peak.borrow_mut();
                p.0 += 1;
                p.1 = p.1.max(p.0);
            }
            let mut guard = lock.lock().await;
            qtloop::sleep(0.002).await.unwrap(); // held across an await
            *guard += 1;
            log.borrow_mut().push(i);
            drop(guard);
            peak.borrow_mut().0 -= 1;
        }));
    }
    let rw = async_lock::RwLock::new(1);
    let total = lp
        .run_until_complete(async move {
            for t in tasks {
                t.await.unwrap();
            }
            let (a, b) = (rw.read().await, rw.read().await);
            assert_eq!(*a + *b, 2);
            drop((a, b));
            *rw.write().await += 1;
            (*lock.lock().await, rw.into_inner())
        })
        .unwrap();
    assert_eq!(total, (6, 2));
    assert_eq!(peak.borrow().1, 2, "the semaphore let two in at a time");
    assert_eq!(log.borrow().len(), 6);
    lp.close().unwrap();
}

fn event_listener_wakes_a_loop_task() {
    let lp = EventLoop::new().unwrap();
    let event = Arc::new(event_listener::Event::new());
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (e, f) = (event.clone(), flag.clone());
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        f.store(true, std::sync::atomic::Ordering::SeqCst);
        e.notify(usize::MAX);
    });
    let seen = lp
        .run_until_complete(async move {
            loop {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return true;
                }
                let listener = event.listen();
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return true;
                }
                listener.await;
            }
        })
        .unwrap();
    assert!(seen);
    lp.close().unwrap();
}

fn async_net_echo_on_the_loop() {
    let lp = EventLoop::new().unwrap();
    let got = lp
        .run_until_complete(async {
            let listener = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = qtloop::spawn_local(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            });
            let mut c = async_net::TcpStream::connect(addr).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).await.unwrap();
            server.await.unwrap();
            back
        })
        .unwrap();
    assert_eq!(&got, b"hello");
    lp.close().unwrap();
}
