//! `qtloop::process` with real children: /bin/cat, /bin/sh, /bin/true.

use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use qtloop::process::{Command, Stdio};

cases!(process:
    sixty_four_mib_through_cat,
    exit_codes_and_signals,
    output_collects_stdout_and_stderr,
    kill_on_drop_kills_the_child,
    five_hundred_spawns_leave_no_zombie,
    a_dropped_child_is_reaped,
    waiting_costs_no_thread_and_no_cpu,
    spawn_errors_are_clear,
    closing_stdin_sends_eof,
    spawn_without_a_loop_starts_nothing,
    the_sigchld_fallback_waits_without_a_pidfd,
);

use crate::run_on_a_new_loop as run;

/// Zombie children of this process (state Z in /proc/<pid>/stat).
fn zombies() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...
            let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
            let mut f = rest.split(' ');
            let state = f.next();
            let ppid = f.next();
            state == Some("Z") && ppid == Some(me.as_str())
        })
        .count()
}

/// The state and start time (in clock ticks since boot) of process `pid`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(") ")?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // starttime is field 22 of stat; `rest` starts at field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether the process `pid` that started at `start` still runs (not a
/// zombie). The start time tells it from a later process or thread that
/// got the same id: ids wrap at 32768 here, and the suite makes thousands.
fn alive(pid: u32, start: u64) -> bool {
    stat(pid).is_some_and(|(state, s)| s == start && state != 'Z')
}

fn sixty_four_mib_through_cat() {
    const SIZE: usize = 64 << 20;
    run(async {
        let mut child = Command::new("/bin/cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let writer = qtloop::spawn_local(async move {
            let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
            for _ in 0..SIZE / chunk.len() {
                stdin.write_all(&chunk).await.unwrap();
            }
            // dropped: cat sees EOF
        });
        let mut buf = vec![0u8; 1 << 16];
        let (mut total, mut ok) = (0usize, true);
        loop {
            let n = stdout.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            ok &= buf[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == ((total + i) % 65536 % 251) as u8);
            total += n;
        }
        writer.await.unwrap();
        assert_eq!(total, SIZE);
        assert!(ok, "cat's output differs from its input");
        assert!(child.wait().await.unwrap().success());
    });
}

fn exit_codes_and_signals() {
    use std::os::unix::process::ExitStatusExt;
    run(async {
        let st = Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .status()
            .await
            .unwrap();
        assert_eq!(st.code(), Some(7));
        let mut sleeper = Command::new("/bin/sleep").arg("30").spawn().unwrap();
        let t0 = Instant::now();
        sleeper.kill().unwrap();
        let st = sleeper.wait().await.unwrap();
        assert_eq!(st.signal(), Some(9));
        assert!(t0.elapsed() < Duration::from_secs(5));
        // The status stays once reaped; kill after the end is a no-op.
        assert_eq!(sleeper.wait().await.unwrap().signal(), Some(9));
        sleeper.kill().unwrap();
    });
}

fn output_collects_stdout_and_stderr() {
    run(async {
        let out = Command::new("/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(2));
    });
}

fn kill_on_drop_kills_the_child() {
    let pid = run(async {
        let child = Command::new("/bin/sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id();
        let (_, start) = stat(pid).expect("the child runs");
        assert!(alive(pid, start));
        drop(child);
        (pid, start)
    });
    let (pid, start) = pid;
    let t0 = Instant::now();
    while alive(pid, start) && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(pid, start), "the child outlived its drop");
    let t0 = Instant::now();
    while zombies() > 0 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(zombies(), 0);
}

fn five_hundred_spawns_leave_no_zombie() {
    run(async {
        for _ in 0..500 {
            let st = Command::new("/bin/true").status().await.unwrap();
            assert!(st.success());
        }
    });
    assert_eq!(zombies(), 0);
}

fn a_dropped_child_is_reaped() {
    run(async {
        let child = Command::new("/bin/sh")
            .args(["-c", "sleep 0.05"])
            .spawn()
            .unwrap();
        drop(child); // not killed: it ends by itself and is reaped
        qtloop::sleep(0.3).await.unwrap();
    });
    let t0 = Instant::now();
    while zombies() > 0 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(zombies(), 0);
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn waiting_costs_no_thread_and_no_cpu() {
    run(async {
        let before = threads();
        let mut children: Vec<_> = (0..10)
            .map(|_| Command::new("/bin/sleep").arg("0.3").spawn().unwrap())
            .collect();
        let cpu0 = crate::reactor::thread_cpu();
        let t0 = Instant::now();
        // (threads of earlier cases may end meanwhile; none may start)
        assert!(
            threads() <= before,
            "a thread per child: {before} -> {}",
            threads()
        );
        for c in &mut children {
            assert!(c.wait().await.unwrap().success());
        }
        let share =
            (crate::reactor::thread_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
        assert!(
            share < 0.2,
            "waiting for children used {:.0} % of a core",
            share * 100.0
        );
    });
}

fn spawn_errors_are_clear() {
    run(async {
        let err = Command::new("/no/such/program").spawn().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

fn closing_stdin_sends_eof() {
    run(async {
        let mut child = Command::new("/bin/cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello").await.unwrap();
        stdin.close().await.unwrap(); // EOF, though `stdin` still exists
        let mut out = String::new();
        let read = child.stdout.as_mut().unwrap().read_to_string(&mut out);
        qtloop::timeout(5.0, read)
            .await
            .expect("EOF reached cat")
            .unwrap();
        assert_eq!(out, "hello");
        let err = stdin.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        assert!(child.wait().await.unwrap().success());
    });
}

fn spawn_without_a_loop_starts_nothing() {
    let marker = std::env::temp_dir().join(format!("qtloop-no-loop-{}", std::process::id()));
    let m = marker.clone();
    let err =
        std::thread::spawn(move || Command::new("/usr/bin/touch").arg(&m).spawn().unwrap_err())
            .join()
            .unwrap();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!marker.exists(), "the child ran although spawn failed");
}

/// The same children, waited for on the SIGCHLD pipe, in a child process
/// of this binary started with `QTLOOP_CHILD_WAIT=sigchld`.
fn the_sigchld_fallback_waits_without_a_pidfd() {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .env("QTLOOP_TEST_CHILD", "sigchld_fallback")
        .env("QTLOOP_CHILD_WAIT", "sigchld")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = crate::wait_within(&mut child, Duration::from_secs(30), "the SIGCHLD child");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "the SIGCHLD child failed: {status}\n{out}"
    );
    assert!(
        out.contains("sigchld: 50 children, 0 zombies, no pidfd"),
        "{out}"
    );
}

/// Child side: waits on the SIGCHLD pipe (no pidfd is ever opened).
pub fn sigchld_fallback_child() {
    use std::os::unix::process::ExitStatusExt;
    let pidfds = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|l| l.to_string_lossy().contains("pidfd"))
            .count()
    };
    run(async move {
        let mut children: Vec<_> = (0..50)
            .map(|i| {
                Command::new("/bin/sh")
                    .arg("-c")
                    .arg(format!("exit {}", i % 7))
                    .spawn()
                    .unwrap()
            })
            .collect();
        assert_eq!(pidfds(), 0, "a pidfd was opened");
        for (i, c) in children.iter_mut().enumerate() {
            assert_eq!(c.wait().await.unwrap().code(), Some(i as i32 % 7));
        }
        let mut sleeper = Command::new("/bin/sleep").arg("30").spawn().unwrap();
        sleeper.kill().unwrap();
        assert_eq!(sleeper.wait().await.unwrap().signal(), Some(9));
    });
    println!("sigchld: 50 children, {} zombies, no pidfd", zombies());
}
