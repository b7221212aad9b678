// A QMI loop task polls a simulated cryostat in its own thread; QML sets
// the setpoint (slider), picks the missed-loop policy, and plots the status
// as it arrives on the GUI thread.
import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop

Window {
    id: root
    objectName: "window"
    width: 620
    height: 430
    visible: true
    color: "#ffffff"
    title: "qtloop: instrument monitor"

    property var history: []
    property real temperature: 0
    property real heater: 0
    property int samples: 0
    property int missed: 0

    AsyncJob {
        id: monitor
        objectName: "monitor"
        job: "monitor"
        onMessage: (kind, value) => {
            if (kind === "temperature") {
                root.temperature = value;
                root.samples++;
                let h = root.history;
                h.push(value);
                if (h.length > 120) h.shift();
                root.history = h;
                plot.requestPaint();
            } else if (kind === "heater") root.heater = value
            else if (kind === "missed") root.missed = value
        }
        function restart() {
            start(policy.model[policy.currentIndex]);
            post("setpoint", setpoint.value);
        }
        Component.onCompleted: restart()
    }

    Text { x: 20; y: 14; text: "Cryostat monitor (QMI loop task, 10 Hz)"; font.pixelSize: 18; font.bold: true }

    Canvas {
        id: plot
        objectName: "plot"
        x: 20; y: 48; width: 580; height: 220
        onPaint: {
            const g = getContext("2d");
            g.fillStyle = "#f4f6f8"; g.fillRect(0, 0, width, height);
            const y = (k) => height - (k / 7.0) * height;
            g.strokeStyle = "#9e9e9e"; g.lineWidth = 1;
            g.beginPath(); g.moveTo(0, y(setpoint.value)); g.lineTo(width, y(setpoint.value)); g.stroke();
            g.strokeStyle = "#1565c0"; g.lineWidth = 3;
            g.beginPath();
            for (let i = 0; i < root.history.length; ++i) {
                const px = i * width / 120, py = y(root.history[i]);
                if (i === 0) g.moveTo(px, py); else g.lineTo(px, py);
            }
            g.stroke();
        }
    }

    Row {
        x: 20; y: 282; spacing: 12
        Text { text: "Setpoint"; font.pixelSize: 14; anchors.verticalCenter: parent.verticalCenter }
        Slider {
            id: setpoint
            objectName: "setpoint"
            from: 1; to: 6; value: 4; stepSize: 0.1; width: 220
            onValueChanged: { monitor.post("setpoint", value); plot.requestPaint() }
        }
        Text { text: setpoint.value.toFixed(1) + " K"; font.pixelSize: 14; anchors.verticalCenter: parent.verticalCenter }
        ComboBox {
            id: policy
            objectName: "policy"
            model: ["Immediate", "Skip", "Terminate", "Burst"]
            currentIndex: 1
            // currentText is not updated yet when currentIndex changes.
            onCurrentIndexChanged: if (monitor.status !== "idle") { monitor.cancel(); monitor.restart() }
        }
    }

    Text {
        objectName: "readout"
        x: 20; y: 336; font.pixelSize: 15
        text: root.temperature.toFixed(3) + " K, heater " + root.heater.toFixed(0) + " %, "
              + root.samples + " samples, " + root.missed + " missed loops"
    }
    Text {
        objectName: "state"
        x: 20; y: 366; width: 580; font.pixelSize: 14
        wrapMode: Text.Wrap
        color: monitor.status === "failed" ? "#c62828" : "#2e7d32"
        text: monitor.status === "failed" ? "stopped: " + monitor.error : "policy " + policy.currentText + ": " + monitor.status
    }
}
