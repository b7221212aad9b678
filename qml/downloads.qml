// Blocking jobs on qtloop's thread pool, watched and cancelled from QML:
// each row is an AsyncJob whose Rust job runs a blocking "download" in the
// executor and reports its progress back to the GUI thread.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 660
    height: 230
    visible: true
    color: "#ffffff"
    title: "qtloop: downloads"

    property int settled: 0   // rows finished, failed or cancelled

    Column {
        x: 20; y: 20
        spacing: 14
        Text { text: "Downloads on the thread pool"; font.pixelSize: 20; font.bold: true }
        Repeater {
            model: ["alpha.iso", "beta.tar", "gamma.zip", "delta.img"]
            Row {
                id: row
                required property int index
                required property string modelData
                spacing: 12
                AsyncJob {
                    id: dl
                    objectName: "download" + row.index
                    job: "download"
                    onFinished: root.settled++
                    onFailed: root.settled++
                    onCancelled: root.settled++
                    Component.onCompleted: start(row.index)
                }
                Text { width: 90; text: row.modelData; font.pixelSize: 15; anchors.verticalCenter: parent.verticalCenter }
                Rectangle {
                    objectName: "bar" + row.index
                    width: 200; height: 18; radius: 3
                    color: "#e6e6e6"
                    anchors.verticalCenter: parent.verticalCenter
                    Rectangle {
                        width: parent.width * dl.progress; height: parent.height; radius: 3
                        color: dl.status === "cancelled" ? "#c62828"
                             : dl.status === "finished" ? "#2e7d32" : "#1565c0"
                    }
                }
                Button {
                    objectName: "cancel" + row.index
                    text: "Cancel"
                    enabled: dl.running
                    onClicked: dl.cancel()
                }
                Text {
                    objectName: "result" + row.index
                    width: 180
                    anchors.verticalCenter: parent.verticalCenter
                    font.pixelSize: 13
                    text: dl.status === "finished" ? dl.result
                        : dl.status === "cancelled" ? "cancelled"
                        : dl.status === "failed" ? dl.error
                        : Math.round(dl.progress * 100) + " %"
                }
            }
        }
    }
}
