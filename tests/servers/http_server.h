// A small HTTP/1.1 server for the protocol doubles (RFC 9112 framing only, no TLS).
//
// Wire format read here: a request line "METHOD SP target SP HTTP/1.x CRLF", header fields
// "name: value CRLF" up to an empty line, then a body framed by Content-Length or by
// Transfer-Encoding: chunked (hex size, optional ";ext", CRLF, data, CRLF, ..., a zero-size chunk
// and optional trailer fields). "Expect: 100-continue" gets an interim 100 before the body is
// read, as libcurl waits for it on large bodies. A body with Content-Encoding gzip (or deflate)
// is inflated before the handler sees it. Connections are persistent unless the client sends
// "Connection: close" or speaks HTTP/1.0 without keep-alive.
//
// One thread accepts on 127.0.0.1, one thread serves each connection, so a handler may block
// (slow responses) without stalling other clients. Each connection thread runs requests one
// after another, which is what HTTP/1.1 without pipelining gives a server anyway.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cdcctl::testing {

struct HttpRequest {
    std::string method;
    std::string target;                          // as sent: "/idx/_bulk?refresh=true"
    std::string path;                            // percent-decoded, without the query
    std::map<std::string, std::string> params;   // percent-decoded query parameters
    std::map<std::string, std::string> headers;  // lowercase names; repeats joined with ", "
    std::string body;                            // de-chunked and inflated
    // Set when the body could not be decoded (corrupt gzip, unknown Content-Encoding): the
    // handler answers it, usually with a 400.
    std::string body_error;
    bool http10 = false;

    // The header's value, "" when absent. name is lowercase.
    const std::string &Header(const std::string &name) const;
    bool HasParam(const std::string &name) const { return params.count(name) != 0; }
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is added
    std::string body;  // not sent for HEAD, though its length is announced
    // Faults: wait this long before sending anything.
    std::chrono::milliseconds delay{0};
    // Faults: send about half of the response, then reset the connection (SO_LINGER 0).
    bool reset_mid_response = false;
    // Close the connection after this response.
    bool close = false;
};

class HttpServer {
public:
    using Handler = std::function<void(HttpRequest &, HttpResponse *)>;

    // Listens on 127.0.0.1:port (0 for a free port) and starts serving. Throws
    // std::runtime_error when the port cannot be bound.
    HttpServer(int port, Handler handler);
    // Stops accepting, unblocks and joins every connection thread.
    ~HttpServer();
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    int port() const { return port_; }
    int connections_opened() const { return connections_opened_.load(); }
    // The most requests that were between "fully received" and "response sent" at once.
    int max_in_flight() const { return max_in_flight_.load(); }

private:
    struct Connection {
        int fd = -1;
        std::thread thread;
        std::atomic<bool> done{false};
    };

    void AcceptLoop();
    void Serve(Connection *conn);
    void Finish(Connection *conn);
    // Sleeps up to d; returns early (false) when the server stops.
    bool SleepUnlessStopping(std::chrono::milliseconds d);

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::mutex conns_mu_;
    std::list<std::unique_ptr<Connection>> conns_;
    std::mutex sleep_mu_;
    std::condition_variable sleep_cv_;
    std::atomic<int> connections_opened_{0};
    std::atomic<int> in_flight_{0};
    std::atomic<int> max_in_flight_{0};
};

// Inflates a gzip (or zlib, auto-detected) stream; false with *error set when it is corrupt.
bool GunzipBody(const std::string &in, std::string *out, std::string *error);
// Standard base64 (RFC 4648), padding optional; false on a character outside the alphabet.
bool Base64Decode(const std::string &in, std::string *out);

}  // namespace cdcctl::testing
