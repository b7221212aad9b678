#include "qtloop/net.h"
#include "qtloop/src/bridge/net.cxx.h"

#include <QtCore/QByteArray>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkRequest>

namespace qtloop {

namespace {

rust::Str bytes_str(const QByteArray &b)
{
    return rust::Str(b.constData(), static_cast<std::size_t>(b.size()));
}

// Qt reads the socket ahead by at most this much.
constexpr qint64 read_buffer_size = 1 << 20;

QByteArray to_bytes(const rust::String &s)
{
    return QByteArray(s.data(), static_cast<qsizetype>(s.size()));
}

} // namespace

std::unique_ptr<QNetworkAccessManager> new_network_manager()
{
    return std::make_unique<QNetworkAccessManager>();
}

HttpReply::HttpReply(QNetworkReply *reply, rust::Box<ReplySink> sink)
    : reply_(reply), sink_(std::move(sink))
{
    reply->setReadBufferSize(read_buffer_size);
    // All of these run on the manager's (the loop's) thread.
    connections_.push_back(QObject::connect(reply, &QNetworkReply::metaDataChanged,
                                            [this] { report_meta(); }));
    connections_.push_back(
        QObject::connect(reply, &QIODevice::readyRead, [this] { sink_->on_readable(); }));
    connections_.push_back(QObject::connect(
        reply, &QNetworkReply::downloadProgress,
        [this](qint64 received, qint64 total) { sink_->on_download_progress(received, total); }));
    connections_.push_back(QObject::connect(
        reply, &QNetworkReply::uploadProgress,
        [this](qint64 sent, qint64 total) { sink_->on_upload_progress(sent, total); }));
    connections_.push_back(QObject::connect(reply, &QNetworkReply::finished, [this] {
        report_meta();
        sink_->on_finished(static_cast<std::int32_t>(reply_->error()),
                           rust::String(reply_->errorString().toStdString()));
    }));
    connections_.push_back(
        QObject::connect(reply, &QObject::destroyed, [this] { sink_->on_destroyed(); }));
}

HttpReply::~HttpReply()
{
    for (const auto &c : connections_) {
        QObject::disconnect(c);
    }
    if (reply_) {
        if (!reply_->isFinished()) {
            reply_->abort();
        }
        reply_->deleteLater();
    }
}

void HttpReply::abort() const
{
    if (reply_ && !reply_->isFinished()) {
        reply_->abort();
    }
}

std::size_t HttpReply::available() const
{
    return reply_ && reply_->isOpen() ? static_cast<std::size_t>(reply_->bytesAvailable()) : 0;
}

std::size_t HttpReply::read_into(rust::Slice<std::uint8_t> buffer) const
{
    if (!reply_ || !reply_->isOpen()) {
        return 0;
    }
    const qint64 n = reply_->read(reinterpret_cast<char *>(buffer.data()),
                                  static_cast<qint64>(buffer.size()));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void HttpReply::report_meta() const
{
    const QVariant status = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (!status.isValid()) {
        return;
    }
    const QByteArray reason =
        reply_->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray();
    rust::Vec<rust::String> headers;
    for (const auto &pair : reply_->rawHeaderPairs()) {
        headers.push_back(rust::String(pair.first.constData(), pair.first.size()));
        headers.push_back(rust::String(pair.second.constData(), pair.second.size()));
    }
    sink_->on_meta(status.toInt(), bytes_str(reason), headers);
}

std::unique_ptr<HttpReply> start_request(const QNetworkAccessManager &manager, rust::Str method,
                                         rust::Str url, const rust::Vec<rust::String> &headers,
                                         rust::Slice<const std::uint8_t> body, bool has_body,
                                         std::int32_t timeout_ms, rust::Box<ReplySink> sink)
{
    auto &m = const_cast<QNetworkAccessManager &>(manager);
    QNetworkRequest request(QUrl(QString::fromUtf8(url.data(), static_cast<qsizetype>(url.size()))));
    for (std::size_t i = 0; i + 1 < headers.size(); i += 2) {
        request.setRawHeader(to_bytes(headers[i]), to_bytes(headers[i + 1]));
    }
    if (timeout_ms > 0) {
        request.setTransferTimeout(timeout_ms);
    }
    const QByteArray verb(method.data(), static_cast<qsizetype>(method.size()));
    const QByteArray data(reinterpret_cast<const char *>(body.data()),
                          static_cast<qsizetype>(body.size()));
    QNetworkReply *reply = nullptr;
    // The standard verbs through their own calls: Qt knows, for one, that a
    // HEAD reply has no body (as a custom verb it would wait for one).
    if (verb == "GET" && !has_body) {
        reply = m.get(request);
    } else if (verb == "HEAD" && !has_body) {
        reply = m.head(request);
    } else if (verb == "DELETE" && !has_body) {
        reply = m.deleteResource(request);
    } else if (verb == "POST") {
        reply = m.post(request, data);
    } else if (verb == "PUT") {
        reply = m.put(request, data);
    } else if (has_body) {
        reply = m.sendCustomRequest(request, verb, data);
    } else {
        reply = m.sendCustomRequest(request, verb);
    }
    return std::make_unique<HttpReply>(reply, std::move(sink));
}

} // namespace qtloop
