// QtAsyncio's "minimal" example in QML on qtloop: pressing the button
// starts a Rust job that awaits sleep(1) and then changes the text. The
// heartbeat (a QML Timer) shows that the window stays responsive meanwhile.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    objectName: "window"
    width: 460
    height: 170
    visible: true
    color: "#ffffff"
    title: "qtloop: minimal"

    property int heartbeat: 0

    AsyncJob {
        id: question
        objectName: "question"
        job: "question"
        onFinished: (result) => answer.text = result
    }

    Timer {
        interval: 20; running: true; repeat: true
        onTriggered: heartbeat++
    }

    Column {
        anchors.centerIn: parent
        spacing: 18
        Label {
            id: answer
            objectName: "text"
            anchors.horizontalCenter: parent.horizontalCenter
            text: "The answer is 42."
            font.pixelSize: 18
            color: "#202020"
        }
        Button {
            objectName: "button"
            anchors.horizontalCenter: parent.horizontalCenter
            text: question.running ? "Thinking…" : "What is the question?"
            onClicked: question.start(null)
        }
        Label {
            objectName: "heartbeat"
            anchors.horizontalCenter: parent.horizontalCenter
            text: "UI heartbeat: " + heartbeat
            font.pixelSize: 12
            color: "#808080"
        }
    }
}
