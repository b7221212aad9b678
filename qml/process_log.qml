// A child process's stdout, line by line, in a list: the lines arrive as
// AsyncJob messages from a Rust job that reads the child's pipe on the GUI
// thread's loop. Stop asks the job to kill the child.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 520
    height: 360
    visible: true
    color: "#ffffff"
    title: "qtloop: process_log"

    property int lines: log.count

    AsyncJob {
        id: tail
        objectName: "tail"
        job: "tail"
        onMessage: (kind, value) => {
            if (kind === "line") {
                log.append({ text: value })
                view.positionViewAtEnd()
            }
        }
        Component.onCompleted: start(null)
    }

    ListModel { id: log }

    Column {
        x: 16; y: 14
        spacing: 10
        Row {
            spacing: 12
            Text { text: "/bin/sh, one line every 50 ms"; font.pixelSize: 18; font.bold: true; anchors.verticalCenter: parent.verticalCenter }
            Button {
                objectName: "stop"
                text: "Stop"
                enabled: tail.running
                onClicked: tail.post("stop", null)
            }
        }
        Rectangle {
            width: 488; height: 240
            color: "#f4f4f4"; border.color: "#d0d0d0"
            ListView {
                id: view
                anchors.fill: parent; anchors.margins: 6
                clip: true
                model: log
                delegate: Text { text: model.text; font.family: "monospace"; font.pixelSize: 13; color: "#202020" }
            }
        }
        Rectangle {
            objectName: "statusBox"
            width: 488; height: 30; radius: 4
            color: tail.status === "finished" ? "#2e7d32" : tail.status === "failed" ? "#c62828" : "#1565c0"
            Text {
                objectName: "statusText"
                anchors.verticalCenter: parent.verticalCenter; x: 10
                color: "#ffffff"; font.pixelSize: 14
                text: tail.status === "finished" ? tail.result
                    : tail.status === "failed" ? tail.error
                    : "running: " + root.lines + " lines"
            }
        }
    }
}
