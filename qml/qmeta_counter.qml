// The QML side of examples/qmeta_counter.rs: a qmetaobject QObject counts
// with qtloop's sleep; the app quits when it is done.
import QtQuick 2.15
import QtQuick.Window 2.15
import Counter 1.0

Window {
    width: 240; height: 100; visible: true
    Counter {
        id: counter
        onValueChanged: if (value === 5) Qt.quit()
        Component.onCompleted: count_to(5)
    }
    Text { anchors.centerIn: parent; font.pixelSize: 20; text: "count: " + counter.value }
}
