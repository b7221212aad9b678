// HTTP on Qt's QNetworkAccessManager: a request started from Rust, and the
// reply's signals forwarded to Rust (headers, data as it arrives, progress,
// the end). Qt's proxy, TLS and redirect settings apply as for any Qt code.
#pragma once

#include <QtCore/QMetaObject>
#include <QtCore/QPointer>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>

#include <cstdint>
#include <memory>
#include <vector>

#include "rust/cxx.h"

namespace qtloop {

struct ReplySink; // Rust: what the reply reports

std::unique_ptr<QNetworkAccessManager> new_network_manager();

// Owns the QNetworkReply (deleted later, aborted first if it has not
// finished) unless the manager destroys it first; after that the QPointer
// is null and the sink has been told. Its read buffer is bounded: Rust
// pulls the body as it is consumed, and Qt stops reading the socket while
// the buffer is full (backpressure instead of an unbounded queue).
class HttpReply {
public:
    HttpReply(QNetworkReply *reply, rust::Box<ReplySink> sink);
    ~HttpReply();
    HttpReply(const HttpReply &) = delete;
    HttpReply &operator=(const HttpReply &) = delete;
    void abort() const;
    // Bytes of the body that Qt has buffered, and reading them into
    // `buffer` (returns how many were read).
    std::size_t available() const;
    std::size_t read_into(rust::Slice<std::uint8_t> buffer) const;

private:
    // Every status, redirects included: Rust decides which is the answer.
    void report_meta() const;

    QPointer<QNetworkReply> reply_;
    rust::Box<ReplySink> sink_;
    std::vector<QMetaObject::Connection> connections_;
};

// `headers` are name, value, name, value...; `body` is sent when has_body.
// `timeout_ms` 0: Qt's default (none).
std::unique_ptr<HttpReply> start_request(const QNetworkAccessManager &manager, rust::Str method,
                                         rust::Str url, const rust::Vec<rust::String> &headers,
                                         rust::Slice<const std::uint8_t> body, bool has_body,
                                         std::int32_t timeout_ms, rust::Box<ReplySink> sink);

} // namespace qtloop
