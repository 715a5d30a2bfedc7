// See http_server.h for the wire format.
#include "tests/servers/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cdcctl::testing {

namespace {

// Elasticsearch's http.max_content_length default.
constexpr size_t kMaxBody = 100u * 1024 * 1024;
constexpr size_t kMaxHead = 64u * 1024;

std::string Lower(std::string s) {
    for (char &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string Trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string PercentDecode(const std::string &s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

const char *Reason(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 409:
            return "Conflict";
        case 413:
            return "Request Entity Too Large";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Status";
    }
}

bool SendAll(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// Buffered reads from one connection.
class Reader {
public:
    explicit Reader(int fd) : fd_(fd) {}

    // Reads more bytes into the buffer; false on EOF or error.
    bool Fill() {
        if (pos_ > 0 && pos_ == buf_.size()) {
            buf_.clear();
            pos_ = 0;
        } else if (pos_ > (1u << 20)) {
            buf_.erase(0, pos_);
            pos_ = 0;
        }
        char tmp[65536];
        for (;;) {
            ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            buf_.append(tmp, static_cast<size_t>(n));
            return true;
        }
    }
    // The next CRLF- (or LF-) terminated line, without the terminator. false on EOF or when
    // the line grows past limit.
    bool Line(std::string *line, size_t limit = kMaxHead) {
        for (;;) {
            size_t nl = buf_.find('\n', pos_);
            if (nl != std::string::npos) {
                size_t end = nl;
                if (end > pos_ && buf_[end - 1] == '\r') --end;
                line->assign(buf_, pos_, end - pos_);
                pos_ = nl + 1;
                return true;
            }
            if (buf_.size() - pos_ > limit) return false;
            if (!Fill()) return false;
        }
    }
    bool Bytes(size_t n, std::string *out) {
        while (buf_.size() - pos_ < n) {
            if (!Fill()) return false;
        }
        out->append(buf_, pos_, n);
        pos_ += n;
        return true;
    }
    bool Empty() const { return pos_ == buf_.size(); }

private:
    int fd_;
    std::string buf_;
    size_t pos_ = 0;
};

void SendSimple(int fd, int status, const std::string &body) {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
        "\r\ncontent-type: text/plain\r\ncontent-length: " + std::to_string(body.size()) +
        "\r\nconnection: close\r\n\r\n" + body;
    SendAll(fd, out.data(), out.size());
}

}  // namespace

const std::string &HttpRequest::Header(const std::string &name) const {
    static const std::string kEmpty;
    auto it = headers.find(name);
    return it == headers.end() ? kEmpty : it->second;
}

bool GunzipBody(const std::string &in, std::string *out, std::string *error) {
    z_stream zs{};
    // 32 + 15: detect a gzip or zlib header with the largest window.
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        *error = "inflateInit2 failed";
        return false;
    }
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    out->clear();
    char chunk[65536];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef *>(chunk);
        zs.avail_out = sizeof chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            *error = zs.msg ? zs.msg : "inflate failed (truncated input)";
            inflateEnd(&zs);
            return false;
        }
        out->append(chunk, sizeof chunk - zs.avail_out);
        if (out->size() > kMaxBody) {
            *error = "inflated body is larger than 100mb";
            inflateEnd(&zs);
            return false;
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            *error = "unexpected end of gzip stream";
            inflateEnd(&zs);
            return false;
        }
    }
    inflateEnd(&zs);
    return true;
}

bool Base64Decode(const std::string &in, std::string *out) {
    out->clear();
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return true;
}

HttpServer::HttpServer(int port, Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
        std::string err = std::strerror(errno);
        ::close(listen_fd_);
        throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + err);
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HttpServer::~HttpServer() {
    stopping_ = true;
    {
        std::lock_guard<std::mutex> lock(sleep_mu_);
        sleep_cv_.notify_all();
    }
    // shutdown() wakes a thread blocked in accept() or recv() on Linux.
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    std::list<std::unique_ptr<Connection>> conns;
    {
        std::lock_guard<std::mutex> lock(conns_mu_);
        for (auto &c : conns_) {
            if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
        }
        conns.swap(conns_);
    }
    for (auto &c : conns) c->thread.join();
}

void HttpServer::AcceptLoop() {
    while (!stopping_) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (stopping_) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ++connections_opened_;
        std::lock_guard<std::mutex> lock(conns_mu_);
        // Reap connections whose thread has finished.
        for (auto it = conns_.begin(); it != conns_.end();) {
            if ((*it)->done) {
                (*it)->thread.join();
                it = conns_.erase(it);
            } else {
                ++it;
            }
        }
        if (stopping_) {
            ::close(fd);
            break;
        }
        auto conn = std::make_unique<Connection>();
        conn->fd = fd;
        Connection *raw = conn.get();
        conns_.push_back(std::move(conn));
        raw->thread = std::thread([this, raw] { Serve(raw); });
    }
}

bool HttpServer::SleepUnlessStopping(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(sleep_mu_);
    return !sleep_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void HttpServer::Serve(Connection *conn) {
    const int fd = conn->fd;
    Reader reader(fd);
    while (!stopping_) {
        HttpRequest req;
        std::string line;
        // RFC 9112 2.2: a server should ignore empty lines before the request line.
        do {
            if (!reader.Line(&line)) {
                Finish(conn);
                return;
            }
        } while (line.empty());
        size_t sp1 = line.find(' ');
        size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp2 == std::string::npos) {
            SendSimple(fd, 400, "malformed request line\n");
            break;
        }
        req.method = line.substr(0, sp1);
        req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string version = line.substr(sp2 + 1);
        if (version != "HTTP/1.1" && version != "HTTP/1.0") {
            SendSimple(fd, 400, "unsupported HTTP version\n");
            break;
        }
        req.http10 = version == "HTTP/1.0";
        size_t head_bytes = 0;
        bool bad = false;
        for (;;) {
            if (!reader.Line(&line)) {
                Finish(conn);
                return;
            }
            if (line.empty()) break;
            head_bytes += line.size();
            size_t colon = line.find(':');
            if (colon == std::string::npos || colon == 0 || head_bytes > kMaxHead) {
                bad = true;
                continue;
            }
            std::string name = Lower(line.substr(0, colon));
            std::string value = Trim(line.substr(colon + 1));
            auto [it, inserted] = req.headers.emplace(name, value);
            if (!inserted) it->second += ", " + value;
        }
        if (bad) {
            SendSimple(fd, 400, "malformed header field\n");
            break;
        }
        size_t q = req.target.find('?');
        req.path = PercentDecode(req.target.substr(0, q), false);
        if (q != std::string::npos) {
            std::string query = req.target.substr(q + 1);
            size_t start = 0;
            while (start <= query.size()) {
                size_t amp = query.find('&', start);
                if (amp == std::string::npos) amp = query.size();
                std::string kv = query.substr(start, amp - start);
                if (!kv.empty()) {
                    size_t eq = kv.find('=');
                    std::string k = PercentDecode(kv.substr(0, eq), true);
                    std::string v =
                        eq == std::string::npos ? "" : PercentDecode(kv.substr(eq + 1), true);
                    req.params[k] = v;
                }
                start = amp + 1;
            }
        }

        // Body framing.
        const std::string te = Lower(req.Header("transfer-encoding"));
        const std::string &cl = req.Header("content-length");
        bool chunked = !te.empty();
        if (chunked && te != "chunked") {
            SendSimple(fd, 501, "unsupported transfer-encoding\n");
            break;
        }
        size_t content_length = 0;
        if (!chunked && !cl.empty()) {
            if (cl.find_first_not_of("0123456789") != std::string::npos || cl.size() > 12) {
                SendSimple(fd, 400, "bad content-length\n");
                break;
            }
            content_length = std::stoull(cl);
            if (content_length > kMaxBody) {
                SendSimple(fd, 413, "request body larger than 100mb\n");
                break;
            }
        }
        if ((chunked || content_length > 0) && Lower(req.Header("expect")) == "100-continue") {
            static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (!SendAll(fd, kContinue, sizeof kContinue - 1)) break;
        }
        std::string raw;
        bool ok = true;
        if (chunked) {
            for (;;) {
                if (!reader.Line(&line, 1024)) {
                    ok = false;
                    break;
                }
                std::string size_text = Trim(line.substr(0, line.find(';')));
                size_t size = 0;
                if (size_text.empty() || size_text.size() > 8) {
                    ok = false;
                    break;
                }
                for (char c : size_text) {
                    int v = HexValue(c);
                    if (v < 0) {
                        ok = false;
                        break;
                    }
                    size = size * 16 + static_cast<size_t>(v);
                }
                if (!ok) break;
                if (size == 0) {
                    // Trailer fields up to the empty line.
                    do {
                        if (!reader.Line(&line)) {
                            ok = false;
                            break;
                        }
                    } while (!line.empty());
                    break;
                }
                if (raw.size() + size > kMaxBody) {
                    ok = false;
                    break;
                }
                if (!reader.Bytes(size, &raw) || !reader.Line(&line) || !line.empty()) {
                    ok = false;
                    break;
                }
            }
            if (!ok) {
                SendSimple(fd, 400, "malformed chunked body\n");
                break;
            }
        } else if (content_length > 0) {
            raw.reserve(content_length + 64);
            if (!reader.Bytes(content_length, &raw)) {
                Finish(conn);
                return;
            }
        }
        const std::string encoding = Lower(req.Header("content-encoding"));
        if (encoding.empty() || encoding == "identity") {
            req.body = std::move(raw);
        } else if (encoding == "gzip" || encoding == "x-gzip" || encoding == "deflate") {
            if (!GunzipBody(raw, &req.body, &req.body_error)) {
                req.body_error =
                    "cannot decode the " + encoding + " request body: " + req.body_error;
            }
        } else {
            req.body_error = "unsupported Content-Encoding [" + encoding + "]";
        }

        int now = ++in_flight_;
        int prev = max_in_flight_.load();
        while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
        }
        HttpResponse resp;
        handler_(req, &resp);

        const std::string connection = Lower(req.Header("connection"));
        bool close =
            resp.close || connection == "close" || (req.http10 && connection != "keep-alive");
        std::string out =
            "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
        for (const auto &[k, v] : resp.headers) out += k + ": " + v + "\r\n";
        out += "content-length: " + std::to_string(resp.body.size()) + "\r\n";
        if (close) out += "connection: close\r\n";
        out += "\r\n";
        if (req.method != "HEAD") out += resp.body;

        if (resp.delay.count() > 0 && !SleepUnlessStopping(resp.delay)) {
            --in_flight_;
            break;
        }
        if (resp.reset_mid_response) {
            SendAll(fd, out.data(), out.size() / 2);
            // Give the peer's stack the partial bytes before the RST discards the send queue.
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            linger lg{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            ::shutdown(fd, SHUT_RD);
            --in_flight_;
            break;
        }
        bool sent = SendAll(fd, out.data(), out.size());
        --in_flight_;
        if (!sent || close) break;
    }
    Finish(conn);
}

void HttpServer::Finish(Connection *conn) {
    // Under the lock, so that the destructor never shuts down a descriptor number that was
    // closed here and reused by someone else.
    std::lock_guard<std::mutex> lock(conns_mu_);
    ::close(conn->fd);
    conn->fd = -1;
    conn->done = true;
}

}  // namespace cdcctl::testing
