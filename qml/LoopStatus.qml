import QtQuick

// A small status line for QML UIs driven by qtloop: bind `text` to what
// your async work reports.
Text {
    property bool busy: false
    color: busy ? "#b35900" : "#1a6b1a"
    font.pixelSize: 14
}
