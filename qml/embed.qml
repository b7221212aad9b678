// The QML side of examples/embed.rs: start a Rust job, show its result.
import QtQuick
import QtQuick.Window
import Qtloop

Window {
    width: 240; height: 80; visible: true
    AsyncJob {
        id: fetch
        job: "fetch"
        Component.onCompleted: start(null)
        onFinished: (result) => { console.log("answer:", result); Qt.quit() }
    }
    Text { anchors.centerIn: parent; text: fetch.running ? "fetching…" : "answer: " + fetch.result }
}
