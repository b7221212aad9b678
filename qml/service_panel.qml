// A window that is a D-Bus service (examples/service_panel.rs): other
// processes call org.qtloop.Panel's methods, and the handlers, which run on
// this GUI thread, set these properties directly. The button emits the
// service's `pressed` signal to every subscriber on the bus.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 440
    height: 300
    visible: true
    color: "#ffffff"
    title: "qtloop: service panel"

    property int bangs: 0              // set by the `bang` handler
    property string message: "Waiting for a call on org.qtloop.Panel…"
    property int presses: 0

    AsyncJob {
        id: press
        objectName: "press"
        job: "press"
        onFinished: (result) => root.presses = result
    }

    Column {
        anchors.centerIn: parent
        spacing: 14
        Rectangle {
            objectName: "counter"
            anchors.horizontalCenter: parent.horizontalCenter
            width: 200; height: 90; radius: 10
            color: root.bangs > 0 ? "#2e7d32" : "#b0bec5"
            Behavior on color { ColorAnimation { duration: 120 } }
            Column {
                anchors.centerIn: parent
                Label {
                    anchors.horizontalCenter: parent.horizontalCenter
                    text: root.bangs; font.pixelSize: 40; font.bold: true; color: "#ffffff"
                }
                Label {
                    anchors.horizontalCenter: parent.horizontalCenter
                    text: root.bangs === 1 ? "bang" : "bangs"; color: "#ffffff"
                }
            }
        }
        Label {
            objectName: "message"
            anchors.horizontalCenter: parent.horizontalCenter
            text: root.message; font.pixelSize: 16; color: "#202020"
        }
        Button {
            objectName: "button"
            anchors.horizontalCenter: parent.horizontalCenter
            text: "Press (emits pressed on the bus)"
            onClicked: press.start(null)
        }
        Label {
            anchors.horizontalCenter: parent.horizontalCenter
            text: root.presses ? "pressed " + root.presses + (root.presses === 1 ? " time" : " times") : " "
            font.pixelSize: 12; color: "#808080"
        }
    }
}
