// QtAsyncio's "Eratosthenes" example, in QML on qtloop: an async sieve
// (a Rust task) crosses out multiples with short awaits while a second task
// makes the prime being sieved pulse. Both are started, watched and
// cancelled from QML through AsyncJob items.
import QtQuick
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 700
    height: 560
    visible: true
    color: "#fafafa"
    title: "qtloop: Sieve of Eratosthenes"

    readonly property int count: 120
    readonly property int columns: 12
    readonly property int cellWidth: 52
    readonly property int cellHeight: 40
    readonly property int spacing: 3
    property int current: 0
    property real pulse: 0

    ListModel { id: cells }

    AsyncJob {
        id: sieve
        objectName: "sieve"
        job: "sieve"
        onMessage: (kind, value) => {
            if (kind === "current") {
                root.current = value;
                cells.setProperty(value - 1, "state", "current");
            } else if (kind === "prime") {
                cells.setProperty(value - 1, "state", "prime");
            } else if (kind === "composite") {
                cells.setProperty(value - 1, "state", "composite");
            }
        }
        onFinished: (result) => {
            root.current = 0;
            glow.cancel();
            status.text = "Done: " + result + " primes up to " + root.count;
        }
        onFailed: (error) => status.text = "Failed: " + error
    }

    AsyncJob {
        id: glow
        objectName: "glow"
        job: "glow"
        onMessage: (kind, value) => root.pulse = value
    }

    Component.onCompleted: {
        for (let i = 1; i <= count; ++i)
            cells.append({ number: i, state: i === 1 ? "unit" : "open" });
        sieve.start(count);
        glow.start(null);
    }

    Text {
        id: title
        objectName: "title"
        x: 20; y: 14
        text: "Sieve of Eratosthenes"
        font.pixelSize: 24
        font.bold: true
        color: Qt.rgba(0.1 + 0.6 * root.pulse, 0.3, 0.5 - 0.3 * root.pulse, 1)
    }

    Grid {
        id: grid
        objectName: "grid"
        x: 20; y: 56
        columns: root.columns
        spacing: root.spacing
        Repeater {
            model: cells
            Rectangle {
                width: root.cellWidth
                height: root.cellHeight
                radius: 4
                color: model.state === "prime" ? "#2e7d32"
                     : model.state === "current" ? Qt.rgba(0.98, 0.55 + 0.3 * root.pulse, 0.1, 1)
                     : model.state === "composite" ? "#d9d9d9"
                     : "#ffffff"
                border.color: "#b0b0b0"
                Text {
                    anchors.centerIn: parent
                    text: model.number
                    font.pixelSize: 16
                    color: model.state === "prime" ? "#ffffff"
                         : model.state === "composite" ? "#9a9a9a" : "#202020"
                }
            }
        }
    }

    Rectangle {
        objectName: "progressBar"
        x: 20; y: 524
        width: 657 * sieve.progress; height: 6
        color: "#2e7d32"
    }

    Text {
        id: status
        objectName: "status"
        x: 20; y: 494
        font.pixelSize: 16
        color: "#202020"
        text: sieve.running ? "Sieving… " + Math.round(sieve.progress * 100) + " %" : ""
    }
}
