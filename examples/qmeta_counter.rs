//! qtloop driving a QML app built on the `qmetaobject` crate (feature
//! `qmetaobject`): a qmetaobject QObject counts to 5 with qtloop's `sleep`
//! in a task scoped to the object; QML quits when it reaches 5.
//!
//! `cargo run --example qmeta_counter --features qmetaobject`

use std::cell::Cell;
use std::rc::Rc;

use qmetaobject::prelude::*;
use qmetaobject::QPointer;

#[derive(QObject, Default)]
struct Counter {
    base: qt_base_class!(trait QObject),
    value: qt_property!(i32; NOTIFY value_changed),
    value_changed: qt_signal!(),
    count_to: qt_method!(fn(&self, n: i32)),
    tasks: qtloop::qt::TaskScope,
}

impl Counter {
    fn count_to(&self, n: i32) {
        let me = QPointer::from(self);
        self.tasks.spawn(async move {
            for i in 1..=n {
                qtloop::sleep(0.05).await?;
                qtloop::qmeta::with(&me, |c| {
                    c.borrow_mut().value = i;
                    c.borrow().value_changed();
                })?;
            }
            Ok::<_, qtloop::Error>(())
        });
    }
}

fn main() -> qtloop::Result<()> {
    qtloop::qml::use_offscreen_if_no_display();
    qml_register_type::<Counter>(c"Counter", 1, 0, c"Counter");
    let mut engine = QmlEngine::new(); // creates the QApplication: first
    let lp = qtloop::EventLoop::new()?; // then qtloop's loop on it
    let t0 = lp.time();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    lp.create_task(async move {
        loop {
            qtloop::sleep(0.01).await?;
            t.set(t.get() + 1);
        }
        #[allow(unreachable_code)]
        Ok::<_, qtloop::Error>(())
    })
    .detach();
    engine.load_data(include_str!("../qml/qmeta_counter.qml").into());
    engine.exec();
    println!(
        "counter reached 5 after {:.2} s; a qtloop task ticked {} times meanwhile",
        lp.time() - t0,
        ticks.get()
    );
    println!("loop closed by aboutToQuit: {}", lp.is_closed());
    Ok(())
}
