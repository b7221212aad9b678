import QtQuick
import QtQuick.Controls
import QtQuick.Window
import Qtloop
import com.example.app

Window {
    id: root
    width: 420
    height: 220
    visible: true
    title: "qtloop app"

    property bool answered: false

    function checkDone() {
        if (greeter.autorun && root.answered && greeter.greeting !== "")
            Qt.quit();
    }

    Greeter {
        id: greeter
        onGreetingChanged: { console.log("greeting:", greeting); root.checkDone(); }
    }

    AsyncJob {
        id: answer
        job: "answer"
        onFinished: (result) => { console.log("answer:", result); root.answered = true; root.checkDone(); }
        onFailed: (error) => console.log("failed:", error)
        onCancelled: console.log("cancelled")
    }

    Column {
        anchors.centerIn: parent
        spacing: 12
        Row {
            spacing: 10
            Button {
                text: answer.running ? "Cancel" : "Compute"
                onClicked: answer.running ? answer.cancel() : answer.start(21)
            }
            ProgressBar { value: answer.progress; anchors.verticalCenter: parent.verticalCenter }
            Text { text: answer.status === "finished" ? "answer: " + answer.result : answer.status }
        }
        Row {
            spacing: 10
            TextField { id: name; text: "world"; width: 140 }
            Button { text: "Greet"; onClicked: greeter.greet(name.text) }
            Text { text: greeter.greeting; anchors.verticalCenter: parent.verticalCenter }
        }
    }

    Component.onCompleted: if (greeter.autorun) { answer.start(21); greeter.greet("template"); }
}
