//! The `qmetaobject` feature: qtloop driving a qmetaobject-based QML app.
//! It runs as its own process: qmetaobject creates its own QApplication.

cases!(qmeta: qmetaobject_app_runs_qtloop_tasks);

fn qmetaobject_app_runs_qtloop_tasks() {
    let out = crate::embedding::example_with("qmeta_counter", &[]);
    // The QObject's method spawned a qtloop task that counted with sleep;
    // another qtloop task ran alongside inside qmetaobject's exec().
    assert!(out.contains("counter reached 5 after"), "{out}");
    let ticks: u32 = out
        .split("ticked ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(ticks >= 10, "{out}");
    assert!(out.contains("loop closed by aboutToQuit: true"), "{out}");
}
