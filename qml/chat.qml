// A chat client: the Rust job "chat" holds the TCP connection (on the GUI
// thread's loop); lines from the server arrive as its messages, and Send
// posts the text field's line to it.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 520
    height: 380
    visible: true
    color: "#ffffff"
    title: "qtloop: chat"

    property int messages: log.count
    property string server: ""

    AsyncJob {
        id: chat
        objectName: "chat"
        job: "chat"
        onMessage: (kind, value) => {
            if (kind === "connected") {
                root.server = value
            } else if (kind === "line") {
                log.append({ text: value, mine: value.indexOf("me: ") === 0 })
                view.positionViewAtEnd()
            }
        }
        Component.onCompleted: start("me")
    }

    ListModel { id: log; objectName: "log" }

    Column {
        x: 16; y: 14
        spacing: 10
        Text {
            text: chat.running ? "chat on " + root.server : "chat: " + (chat.error || chat.status)
            font.pixelSize: 18; font.bold: true
        }
        Rectangle {
            width: 488; height: 260
            color: "#f4f4f4"; border.color: "#d0d0d0"
            ListView {
                id: view
                anchors.fill: parent; anchors.margins: 8
                spacing: 6
                clip: true
                model: log
                delegate: Rectangle {
                    required property string text
                    required property bool mine
                    width: label.implicitWidth + 16; height: label.implicitHeight + 8; radius: 6
                    x: mine ? view.width - width : 0
                    color: text.indexOf("* ") === 0 ? "#e0e0e0" : mine ? "#2e7d32" : "#1565c0"
                    Text { id: label; x: 8; y: 4; text: parent.text; color: parent.text.indexOf("* ") === 0 ? "#404040" : "#ffffff"; font.pixelSize: 14 }
                }
            }
        }
        Row {
            spacing: 8
            TextField {
                id: input
                objectName: "input"
                width: 400
                placeholderText: "Say something"
                onAccepted: send.clicked()
            }
            Button {
                id: send
                objectName: "send"
                text: "Send"
                enabled: chat.running && input.text.length > 0
                onClicked: { chat.post("say", input.text); input.text = "" }
            }
        }
    }
}
