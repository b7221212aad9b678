// An HTTP fetch from a button: the AsyncJob "fetch" downloads a JSON
// catalog (examples/fetch.rs: reqwest on qtloop's tokio bridge;
// examples/qt_fetch.rs: Qt's QNetworkAccessManager through qt::net::Http),
// its progress drives the bar, Cancel drops the request (the server sees
// the connection close), and the result fills the list.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 520
    height: 400
    visible: true
    color: "#ffffff"
    title: "qtloop: fetch"

    property string url: ""
    property string log: ""   // what happened, for the headless run

    ListModel { id: instruments }

    AsyncJob {
        id: fetch
        objectName: "fetch"
        job: "fetch"
        onFinished: (result) => {
            instruments.clear();
            for (const i of JSON.parse(result).instruments)
                instruments.append(i);
            root.log += "finished;";
        }
        onFailed: (error) => root.log += "failed:" + error + ";"
        onCancelled: root.log += "cancelled;"
    }

    Column {
        x: 20; y: 20
        spacing: 12
        Text { text: "Instrument catalog"; font.pixelSize: 20; font.bold: true }
        Text { text: root.url; font.pixelSize: 12; color: "#555555" }
        Row {
            spacing: 12
            Button {
                objectName: "button"
                width: 90
                text: fetch.running ? "Cancel" : "Fetch"
                onClicked: fetch.running ? fetch.cancel() : fetch.start(root.url)
            }
            Rectangle {
                objectName: "bar"
                width: 260; height: 18; radius: 3
                color: "#e6e6e6"
                anchors.verticalCenter: parent.verticalCenter
                Rectangle {
                    width: parent.width * fetch.progress; height: parent.height; radius: 3
                    color: fetch.status === "cancelled" ? "#c62828"
                         : fetch.status === "finished" ? "#2e7d32" : "#1565c0"
                }
            }
            Text {
                objectName: "status"
                anchors.verticalCenter: parent.verticalCenter
                font.pixelSize: 13
                text: fetch.running ? Math.round(fetch.progress * 100) + " %"
                    : fetch.status === "failed" ? fetch.error
                    : fetch.status === "" ? "" : fetch.status
            }
        }
        Repeater {
            model: instruments
            Row {
                required property int id
                required property string name
                required property bool online
                spacing: 10
                Rectangle {
                    width: 14; height: 14; radius: 7
                    anchors.verticalCenter: parent.verticalCenter
                    color: online ? "#2e7d32" : "#c62828"
                }
                Text { text: id + ". " + name; font.pixelSize: 15 }
            }
        }
    }
}
