// A clock face driven by a libqi PeriodicTask (qtloop::qi) every 50 ms. Each
// tick costs the callback 10 ms of work: with compensation the ticks stay
// on schedule; without it every period starts after the work, and the
// lateness readout grows.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 420
    height: 470
    visible: true
    color: "#ffffff"
    title: "qtloop: periodic clock"

    property real seconds: 0      // seconds of the day (UTC)
    property real lateness: 0     // ms behind the ideal schedule
    property real rate: 0         // ticks per second
    property int ticks: 0

    AsyncJob {
        id: clock
        objectName: "clock"
        job: "clock"
        onMessage: (kind, value) => {
            if (kind === "time") { root.seconds = value; root.ticks++ }
            else if (kind === "lateness") root.lateness = value
            else if (kind === "rate") root.rate = value
        }
        Component.onCompleted: start(compensation.checked)
    }

    Rectangle {
        id: face
        x: 60; y: 20; width: 300; height: 300; radius: 150
        color: "#f4f6f8"; border.color: "#37474f"; border.width: 4
        Repeater {
            model: 60
            Rectangle {
                required property int index
                x: face.width / 2 - width / 2; y: 8
                width: index % 5 === 0 ? 4 : 2; height: index % 5 === 0 ? 16 : 8
                color: "#37474f"
                transform: Rotation { origin.x: width / 2; origin.y: face.height / 2 - 8; angle: index * 6 }
            }
        }
        component Hand: Rectangle {
            id: hand
            property real turn: 0
            property real length: 100
            x: face.width / 2 - width / 2; y: face.height / 2 - length
            height: length; radius: width / 2
            transform: Rotation { origin.x: hand.width / 2; origin.y: hand.length; angle: hand.turn }
        }
        Hand { width: 8; length: 80; color: "#263238"; turn: (root.seconds / 120) % 360 }
        Hand { width: 5; length: 115; color: "#37474f"; turn: (root.seconds / 10) % 360 }
        Hand { objectName: "secondHand"; width: 2; length: 130; color: "#d32f2f"; turn: (root.seconds * 6) % 360 }
        Rectangle { anchors.centerIn: parent; width: 14; height: 14; radius: 7; color: "#d32f2f" }
    }

    Column {
        x: 60; y: 340
        spacing: 8
        Switch {
            id: compensation
            objectName: "compensation"
            text: "Compensate the callback's time"
            checked: true
            onToggled: clock.post("compensate", checked)
        }
        Text {
            objectName: "readout"
            font.pixelSize: 15
            text: "lateness " + (Math.abs(root.lateness) < 0.05 ? 0 : root.lateness).toFixed(1) + " ms, " + root.rate.toFixed(1) + " ticks/s"
            color: Math.abs(root.lateness) > 20 ? "#c62828" : "#2e7d32"
        }
        Text { font.pixelSize: 12; color: "#777"; text: "period 50 ms, 10 ms of work per tick" }
    }
}
