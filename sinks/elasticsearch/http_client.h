// HTTP for the Elasticsearch sink, over libcurl.
//
// Two clients share one set of options (authentication, TLS, timeouts):
//   HttpClient   one request at a time, blocking (GET /, HEAD and PUT /<index>, `cdcctl check`);
//   MultiClient  up to `slots` POST /_bulk requests in flight through curl's multi interface,
//                driven by one thread. Each slot keeps its easy handle, so its keep-alive
//                connection and TLS session are reused from request to request.
//
// Credentials never reach a log line or an error message: basic auth goes through
// CURLOPT_USERNAME/PASSWORD, the API key through a header list that is never printed, and
// every URL that is shown passes through RedactUrl first (user info removed).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/handle.h"

namespace cdcctl::es {

using CurlEasy = Handle<CURL, curl_easy_cleanup>;
using CurlMulti = Handle<CURLM, curl_multi_cleanup>;
using CurlSlist = Handle<curl_slist, curl_slist_free_all>;

struct HttpOptions {
    std::string user, password;  // basic auth when user is set
    std::string api_key;         // Authorization: ApiKey <api_key>
    std::string ca_file;
    bool insecure = false;
    std::chrono::milliseconds timeout{30000};
    std::chrono::milliseconds connect_timeout{10000};
};

// The URL without user info ("https://u:p@h:9200/x" -> "https://h:9200/x"), for messages.
std::string RedactUrl(std::string_view url);
// "http://h:9200/" + "/_bulk" -> "http://h:9200/_bulk".
std::string JoinUrl(std::string_view base, std::string_view path);

struct HttpResponse {
    CURLcode code = CURLE_OK;  // not OK: the transfer failed (no status)
    long status = 0;
    std::string body;
    std::string error;  // curl's message when code is not OK
    bool ok() const { return code == CURLE_OK; }
};

// True for curl errors that a retry on the same or another node may cure.
bool RetriableCurlError(CURLcode code);

class HttpClient {
public:
    explicit HttpClient(HttpOptions options);
    // method: "GET", "HEAD", "PUT", "POST". `content_type` empty: none.
    HttpResponse Do(const std::string &method, const std::string &url, std::string_view body = {},
                    std::string_view content_type = {});

private:
    HttpOptions options_;
    CurlEasy easy_;
    CurlSlist auth_header_;
};

class MultiClient {
public:
    MultiClient(HttpOptions options, int slots);
    ~MultiClient();

    struct Completed {
        void *tag = nullptr;
        HttpResponse response;
    };

    int free_slots() const { return static_cast<int>(free_.size()); }
    // POSTs `body` (which must stay alive until the transfer completes) as NDJSON, gzip-encoded
    // when `gzipped`. Requires a free slot.
    void StartPost(const std::string &url, std::string_view body, bool gzipped, void *tag);
    // Waits up to `timeout` for network activity or Wakeup(), then appends finished transfers.
    void Poll(std::chrono::milliseconds timeout, std::vector<Completed> *done);
    // Safe from any thread: ends a Poll early.
    void Wakeup();

private:
    struct Slot {
        CurlEasy easy;
        std::string response;
        char error[CURL_ERROR_SIZE];
        void *tag = nullptr;
        bool busy = false;
    };
    HttpOptions options_;
    CurlMulti multi_;
    CurlSlist plain_headers_, gzip_headers_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Slot *> free_;
};

}  // namespace cdcctl::es
