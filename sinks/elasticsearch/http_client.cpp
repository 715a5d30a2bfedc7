#include "sinks/elasticsearch/http_client.h"

#include <cstring>
#include <stdexcept>

#include "core/error.h"

namespace cdcctl::es {
namespace {

size_t AppendBody(char *data, size_t size, size_t n, void *user) {
    static_cast<std::string *>(user)->append(data, size * n);
    return size * n;
}

CURL *NewEasy() {
    CURL *h = curl_easy_init();
    if (h == nullptr)
        throw SinkError("elasticsearch", "libcurl could not create a handle (out of memory?)");
    return h;
}

// Options every request shares: authentication, TLS, timeouts, keep-alive.
void ApplyCommon(CURL *h, const HttpOptions &o, curl_slist *headers, char *error_buffer,
                 std::string *response) {
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    // Elasticsearch answers gzip when asked; bulk responses shrink a lot.
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (!o.user.empty()) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, o.user.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, o.password.c_str());
    }
    if (!o.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
    if (o.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

// The headers of every request: the API key, and no "Expect: 100-continue" (a round trip per
// large bulk body for nothing).
curl_slist *BaseHeaders(const HttpOptions &o, curl_slist *list) {
    list = curl_slist_append(list, "Expect:");
    if (!o.api_key.empty())
        list = curl_slist_append(list, ("Authorization: ApiKey " + o.api_key).c_str());
    return list;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
    size_t scheme = url.find("://");
    size_t host_start = scheme == std::string_view::npos ? 0 : scheme + 3;
    size_t path = url.find('/', host_start);
    size_t at = url.rfind('@', path == std::string_view::npos ? url.size() : path);
    if (at == std::string_view::npos || at < host_start) return std::string(url);
    return std::string(url.substr(0, host_start)) + std::string(url.substr(at + 1));
}

std::string JoinUrl(std::string_view base, std::string_view path) {
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    std::string out(base);
    if (path.empty() || path.front() != '/') out.push_back('/');
    out.append(path);
    return out;
}

bool RetriableCurlError(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_WEIRD_SERVER_REPLY:
            return true;
        default:
            return false;
    }
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)), easy_(NewEasy()) {
    auth_header_.reset(BaseHeaders(options_, nullptr));
}

HttpResponse HttpClient::Do(const std::string &method, const std::string &url,
                            std::string_view body, std::string_view content_type) {
    HttpResponse r;
    char error[CURL_ERROR_SIZE] = {0};
    CURL *h = easy_.get();
    curl_easy_reset(h);
    CurlSlist headers(BaseHeaders(options_, nullptr));
    if (!content_type.empty()) {
        headers.reset(curl_slist_append(headers.release(),
                                        ("Content-Type: " + std::string(content_type)).c_str()));
    }
    ApplyCommon(h, options_, headers.get(), error, &r.body);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    r.code = curl_easy_perform(h);
    if (r.code != CURLE_OK) {
        r.error = error[0] != 0 ? std::string(error) : std::string(curl_easy_strerror(r.code));
        return r;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
}

MultiClient::MultiClient(HttpOptions options, int slots) : options_(std::move(options)) {
    multi_.reset(curl_multi_init());
    if (!multi_)
        throw SinkError("elasticsearch",
                        "libcurl could not create a multi handle (out of memory?)");
    // One connection per slot and host; reused across requests (keep-alive).
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(slots));
    curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(slots * 2));
    plain_headers_.reset(
        curl_slist_append(BaseHeaders(options_, nullptr), "Content-Type: application/x-ndjson"));
    gzip_headers_.reset(curl_slist_append(
        curl_slist_append(BaseHeaders(options_, nullptr), "Content-Type: application/x-ndjson"),
        "Content-Encoding: gzip"));
    for (int i = 0; i < slots; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->easy.reset(NewEasy());
        slot->error[0] = 0;
        free_.push_back(slot.get());
        slots_.push_back(std::move(slot));
    }
}

MultiClient::~MultiClient() {
    for (auto &slot : slots_) {
        if (slot->busy) curl_multi_remove_handle(multi_.get(), slot->easy.get());
    }
}

void MultiClient::StartPost(const std::string &url, std::string_view body, bool gzipped,
                            void *tag) {
    if (free_.empty()) throw std::logic_error("MultiClient::StartPost without a free slot");
    Slot *slot = free_.back();
    free_.pop_back();
    CURL *h = slot->easy.get();
    slot->response.clear();
    slot->error[0] = 0;
    slot->tag = tag;
    slot->busy = true;
    ApplyCommon(h, options_, gzipped ? gzip_headers_.get() : plain_headers_.get(), slot->error,
                &slot->response);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_PRIVATE, slot);
    curl_multi_add_handle(multi_.get(), h);
}

void MultiClient::Poll(std::chrono::milliseconds timeout, std::vector<Completed> *done) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(timeout.count()), nullptr);
    curl_multi_perform(multi_.get(), &running);
    int left = 0;
    while (CURLMsg *msg = curl_multi_info_read(multi_.get(), &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *h = msg->easy_handle;
        Slot *slot = nullptr;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, reinterpret_cast<char **>(&slot));
        Completed c;
        c.tag = slot->tag;
        c.response.code = msg->data.result;
        if (c.response.code == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c.response.status);
        } else {
            c.response.error = slot->error[0] != 0
                                   ? std::string(slot->error)
                                   : std::string(curl_easy_strerror(c.response.code));
        }
        c.response.body.swap(slot->response);
        curl_multi_remove_handle(multi_.get(), h);
        slot->busy = false;
        free_.push_back(slot);
        done->push_back(std::move(c));
    }
}

void MultiClient::Wakeup() {
    curl_multi_wakeup(multi_.get());
}

}  // namespace cdcctl::es
