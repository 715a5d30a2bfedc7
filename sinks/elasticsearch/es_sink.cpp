// The Elasticsearch sink: Write encodes events into _bulk requests (and gzips them) on the
// pipeline's thread; an I/O thread sends up to `concurrency` at once through curl's multi
// interface, reads the responses item by item and retries what failed for a passing reason. A batch
// becomes durable (DurableSeq) once every item of it and of every earlier batch is done: indexed,
// found already at that version (409), or rejected for good and then warned about or written to
// the fsynced dead-letter file, as on_malformed says. Anything else stops the run with a
// SinkError naming the node and the error, and nothing past it is confirmed.
//
// Versions: GET / tells Elasticsearch 7.x/8.x from OpenSearch 1.x/2.x (version.distribution).
// All of them accept the same typeless requests (_bulk without _type, PUT /<index> with
// {"mappings":{"properties":..}}, external_gte versions), so nothing else differs; Elasticsearch
// before 7.0 needs a _type and is refused.
#include "sinks/elasticsearch/es_sink.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "core/error.h"
#include "core/json/json_writer.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"
#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/bulk_response.h"
#include "sinks/elasticsearch/http_client.h"
#include "sinks/elasticsearch/index_mapping.h"
#include "sinks/elasticsearch/retry.h"

namespace cdcctl {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr const char *kComponent = "elasticsearch";

struct ClusterInfo {
    std::string number;
    bool opensearch = false;
    int major = 0;
    std::string Describe() const {
        return (opensearch ? "OpenSearch " : "Elasticsearch ") + number;
    }
    // Empty when supported, else why not.
    std::string Unsupported() const {
        if (!opensearch && major < 7) {
            return "Elasticsearch " + number +
                   " is not supported: cdcctl needs 7.x or later (or OpenSearch 1.x or later), "
                   "whose APIs have no mapping types";
        }
        return "";
    }
};

bool ParseClusterInfo(const std::string &body, ClusterInfo *info) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) return false;
    std::string_view number, distribution;
    if (doc["version"]["number"].get_string().get(number)) return false;
    if (doc["version"]["distribution"].get_string().get(distribution)) distribution = {};
    info->number = std::string(number);
    info->opensearch = distribution == "opensearch";
    info->major = std::atoi(info->number.c_str());
    return true;
}

es::HttpOptions OptionsOf(const ElasticsearchSinkConfig &cfg) {
    es::HttpOptions o;
    o.user = cfg.user;
    o.password = cfg.password.value;
    o.api_key = cfg.api_key.value;
    o.ca_file = cfg.ca_file;
    o.insecure = cfg.insecure;
    o.timeout = cfg.timeout;
    return o;
}

std::string PercentEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::string AuthAdvice(const ElasticsearchSinkConfig &cfg, long status) {
    if (status == 403) {
        return "the credentials are valid but lack a privilege (HTTP 403). Grant the user or API "
               "key "
               "'monitor' on the cluster and 'create_index', 'index', 'write' on the target "
               "indices.";
    }
    if (!cfg.user.empty()) {
        return "the cluster rejected the credentials of user '" + cfg.user +
               "' (HTTP 401). Check 'user' and 'password' (the variable behind it).";
    }
    if (!cfg.api_key.empty())
        return "the cluster rejected the API key (HTTP 401). Check 'api_key'.";
    return "the cluster requires credentials (HTTP 401). Set 'user' and 'password', or 'api_key'.";
}

std::string ConnectAdvice(const es::HttpResponse &r) {
    std::string advice = "Check 'url' and that the node is running.";
    if (r.code == CURLE_PEER_FAILED_VERIFICATION || r.code == CURLE_SSL_CACERT_BADFILE ||
        r.code == CURLE_SSL_CONNECT_ERROR) {
        advice =
            "Check that 'ca_file' holds the certificate authority of the cluster's certificate.";
    }
    return advice;
}

// The nodes of the cluster, used round robin; one that failed is skipped for a while (1 s,
// doubling to 30 s) unless every node is down.
class NodeSet {
public:
    explicit NodeSet(std::vector<std::string> urls) {
        for (auto &u : urls) nodes_.push_back({u, es::RedactUrl(u), {}, 0});
    }
    size_t Pick() {
        auto now = Clock::now();
        size_t best = next_ % nodes_.size();
        for (size_t i = 0; i < nodes_.size(); ++i) {
            size_t n = (next_ + i) % nodes_.size();
            if (nodes_[n].dead_until <= now) {
                best = n;
                break;
            }
            if (nodes_[n].dead_until < nodes_[best].dead_until) best = n;
        }
        next_ = best + 1;
        return best;
    }
    void Failed(size_t n) {
        auto &node = nodes_[n];
        node.failures = std::min(node.failures + 1, 6);
        node.dead_until = Clock::now() + std::min<std::chrono::milliseconds>(
                                             30s, 1000ms * (1 << (node.failures - 1)));
    }
    void Succeeded(size_t n) {
        nodes_[n].failures = 0;
        nodes_[n].dead_until = {};
    }
    const std::string &url(size_t n) const { return nodes_[n].url; }
    const std::string &shown(size_t n) const { return nodes_[n].shown; }
    size_t size() const { return nodes_.size(); }

private:
    struct Node {
        std::string url, shown;
        Clock::time_point dead_until;
        int failures;
    };
    std::vector<Node> nodes_;
    size_t next_ = 0;
};

class ElasticsearchSink : public Sink {
public:
    ElasticsearchSink(const ElasticsearchSinkConfig &cfg, const SinkContext &ctx)
        : cfg_(cfg),
          ctx_(ctx),
          encoder_([&] {
              es::BulkEncoderConfig e;
              e.document = cfg.document;
              e.id = cfg.id;
              e.on_delete = cfg.on_delete;
              e.index = cfg.index;
              e.topic_prefix = ctx.topic_prefix;
              e.source_block = ctx.source_block;
              return e;
          }()),
          assembler_(static_cast<size_t>(cfg.bulk_max_bytes),
                     static_cast<size_t>(cfg.bulk_max_docs)),
          sync_nodes_(cfg.Nodes()),
          io_nodes_(cfg.Nodes()),
          rng_(std::random_device{}()),
          io_rng_(std::random_device{}()) {}

    ~ElasticsearchSink() override {
        StopThread();
        if (zstream_ready_) deflateEnd(&zstream_);
        if (dead_letter_fd_ >= 0) ::close(dead_letter_fd_);
    }

    void Open() override {
        if (cfg_.insecure) {
            log::Warn(kComponent,
                      "TLS certificate and host name verification is off (insecure: true); "
                      "anyone between cdcctl and the cluster can read and change the data. "
                      "Use 'ca_file' instead outside tests.");
        }
        if (!cfg_.user.empty() && !cfg_.password.empty()) {
            // The Authorization header is never logged, but make sure its value could not leak.
            std::string basic;
            json::AppendBase64(&basic, cfg_.user + ":" + cfg_.password.value);
            log::AddSecret(std::string_view(basic).substr(1, basic.size() - 2));
        }
        sync_ = std::make_unique<es::HttpClient>(OptionsOf(cfg_));
        size_t node = 0;
        es::HttpResponse r = SyncRequest("GET", "/", {}, {}, &node);
        if (!r.ok()) {
            throw ConnectError(kComponent, "cannot reach Elasticsearch at " +
                                               sync_nodes_.shown(node) + ": " + r.error + ". " +
                                               ConnectAdvice(r));
        }
        if (r.status == 401 || r.status == 403) {
            throw ConnectError(kComponent,
                               sync_nodes_.shown(node) + ": " + AuthAdvice(cfg_, r.status));
        }
        ClusterInfo info;
        if (r.status != 200 || !ParseClusterInfo(r.body, &info)) {
            throw ConnectError(kComponent, sync_nodes_.shown(node) + " answered GET / with HTTP " +
                                               std::to_string(r.status) + " (" +
                                               es::ErrorSummary(r.body) +
                                               "); is it Elasticsearch or OpenSearch?");
        }
        if (std::string why = info.Unsupported(); !why.empty())
            throw ConnectError(kComponent, why + ".");
        log::Info(kComponent,
                  "Connected to " + info.Describe() + " at " + sync_nodes_.shown(node) + ".");

        if (cfg_.on_malformed == EsOnMalformed::kDeadLetter) {
            dead_letter_fd_ = ::open(cfg_.dead_letter_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (dead_letter_fd_ < 0) {
                throw SinkError(kComponent,
                                "cannot open the dead-letter file '" + cfg_.dead_letter_path +
                                    "': " + std::strerror(errno) + ". Check 'dead_letter_path'.");
            }
            SyncParentDirectory(cfg_.dead_letter_path);
        }
        if (cfg_.gzip) {
            std::memset(&zstream_, 0, sizeof(zstream_));
            if (deflateInit2(&zstream_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
                throw SinkError(kComponent, "zlib could not be initialised");
            }
            zstream_ready_ = true;
        }
        multi_ =
            std::make_unique<es::MultiClient>(OptionsOf(cfg_), static_cast<int>(cfg_.concurrency));
        io_thread_ = std::thread([this] { IoLoop(); });
    }

    WriteResult Write(const Batch &batch) override {
        CheckFatal();
        {
            std::lock_guard lock(mu_);
            tracks_.push_back({batch.seq, 0});
        }
        for (const ChangeEvent &event : batch) {
            if (event.table == nullptr) {
                throw SinkError(kComponent,
                                "a change event reached the sink without a table schema (a bug "
                                "in cdcctl)");
            }
            if (event.table.get() != last_ensured_) EnsureIndex(event.table);
            assembler_.Add(encoder_, event, batch.seq, &sealed_);
            if (!sealed_.empty()) Push();
        }
        written_seq_ = batch.seq;
        // Backpressure: at most `concurrency` requests in flight and one more waiting, besides
        // the one being filled.
        std::unique_lock lock(mu_);
        while (outstanding_ > cfg_.concurrency && fatal_.empty() && !signals::StopRequested()) {
            cv_.wait_for(lock, 100ms);
        }
        if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
        return WriteResult::kOk;
    }

    void Flush(std::chrono::milliseconds max_wait) override {
        CheckFatal();
        if (auto open = assembler_.TakeOpen()) {
            sealed_.push_back(std::move(open));
            Push();
        }
        auto deadline = Clock::now() + max_wait;
        std::unique_lock lock(mu_);
        cv_.wait_until(lock, deadline, [&] { return outstanding_ == 0 || !fatal_.empty(); });
        if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
        RecycleLocked();
    }

    void Drain() override {
        if (auto open = assembler_.TakeOpen()) {
            sealed_.push_back(std::move(open));
            Push();
        }
    }

    uint64_t DurableSeq() override {
        std::lock_guard lock(mu_);
        while (!tracks_.empty() && tracks_.front().outstanding == 0 &&
               tracks_.front().seq <= written_seq_ &&
               (assembler_.empty() || tracks_.front().seq < assembler_.first_seq())) {
            durable_seq_ = tracks_.front().seq;
            tracks_.pop_front();
        }
        return durable_seq_;
    }

    void Close() override { StopThread(); }

private:
    struct Track {
        uint64_t seq;
        size_t outstanding;  // items sent or waiting to be, not yet done
    };
    struct InFlight {
        std::unique_ptr<es::BulkRequest> request;
        size_t node = 0;
    };

    // --- the pipeline's thread ------------------------------------------------------------------

    void CheckFatal() {
        std::lock_guard lock(mu_);
        if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
    }

    Track *TrackOf(uint64_t seq) {  // under mu_
        if (tracks_.empty()) return nullptr;
        uint64_t first = tracks_.front().seq;
        if (seq >= first && seq - first < tracks_.size() && tracks_[seq - first].seq == seq)
            return &tracks_[seq - first];
        for (auto &t : tracks_) {
            if (t.seq == seq) return &t;
        }
        return nullptr;
    }

    // Hands the sealed requests to the I/O thread, compressed: here rather than on the I/O thread,
    // which then only waits on sockets and reads responses, so that compression overlaps with
    // the requests in flight instead of delaying the next one.
    void Push() {
        if (cfg_.gzip) {
            for (auto &request : sealed_) {
                if (!Compress(request->body, &request->wire)) {
                    throw SinkError(kComponent,
                                    "gzip compression of a _bulk body failed (zlib error)");
                }
            }
        }
        {
            std::lock_guard lock(mu_);
            for (auto &request : sealed_) {
                for (const es::BulkItem &item : request->items) {
                    if (Track *t = TrackOf(item.seq)) ++t->outstanding;
                }
                queue_.push_back(std::move(request));
                ++outstanding_;
            }
            RecycleLocked();
        }
        sealed_.clear();
        multi_->Wakeup();
    }

    void RecycleLocked() {
        for (auto &r : finished_) assembler_.Recycle(std::move(r));
        finished_.clear();
    }

    // A blocking request for setup, tried on the nodes in turn: connection failures and
    // 429/502/503/504 are retried up to max_retries times with backoff.
    es::HttpResponse SyncRequest(const std::string &method, const std::string &path,
                                 std::string_view body, std::string_view content_type,
                                 size_t *node) {
        es::HttpResponse r;
        for (int attempt = 0;; ++attempt) {
            *node = sync_nodes_.Pick();
            r = sync_->Do(method, es::JoinUrl(sync_nodes_.url(*node), path), body, content_type);
            bool retry = !r.ok()
                             ? es::RetriableCurlError(r.code)
                             : es::ClassifyRequestStatus(r.status) == es::RequestVerdict::kRetry;
            if (!r.ok())
                sync_nodes_.Failed(*node);
            else
                sync_nodes_.Succeeded(*node);
            if (!retry || attempt >= cfg_.max_retries) return r;
            auto delay = es::BackoffDelay(backoff_, attempt + 1, rng_);
            log::Warn(kComponent, method + " " + path + " on " + sync_nodes_.shown(*node) +
                                      " failed (" +
                                      (r.ok() ? "HTTP " + std::to_string(r.status) : r.error) +
                                      "); retrying in " + std::to_string(delay.count()) + " ms.");
            if (signals::AbortRequested()) return r;
            std::this_thread::sleep_for(delay);
        }
    }

    // Creates the index of `table` with a mapping from its columns when it does not exist.
    void EnsureIndex(const TableSchemaPtr &table) {
        const std::string &index = encoder_.IndexOf(table);
        if (known_indices_.count(index) == 0) {
            std::string path = "/" + PercentEncode(index);
            size_t node = 0;
            es::HttpResponse r = SyncRequest("HEAD", path, {}, {}, &node);
            if (r.ok() && r.status == 404) {
                std::string body = es::IndexCreateBody(*table, cfg_.document);
                r = SyncRequest("PUT", path, body, "application/json", &node);
                if (r.ok() && (r.status == 200 || r.status == 201)) {
                    log::Info(kComponent, "Created index '" + index +
                                              "' with a mapping from the columns of '" +
                                              table->schema + "." + table->table + "'.");
                } else if (r.ok() && r.status == 400 &&
                           r.body.find("resource_already_exists_exception") != std::string::npos) {
                    // Created meanwhile by someone else: used as it is.
                } else {
                    FailIndex(index, r, node, "create");
                }
            } else if (r.ok() && r.status == 200) {
                log::Info(kComponent, "Index '" + index + "' exists; it is used as it is.");
            } else {
                FailIndex(index, r, node, "look up");
            }
            known_indices_.insert(index);
        }
        last_ensured_ = table.get();
    }

    [[noreturn]] void FailIndex(const std::string &index, const es::HttpResponse &r, size_t node,
                                const char *what) {
        std::string where = sync_nodes_.shown(node);
        if (!r.ok()) {
            throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index +
                                            "': " + where + " is unreachable (" + r.error + "). " +
                                            ConnectAdvice(r));
        }
        if (r.status == 401 || r.status == 403) {
            throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index +
                                            "' on " + where + ": " + AuthAdvice(cfg_, r.status));
        }
        throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index + "': " +
                                        where + " answered HTTP " + std::to_string(r.status) +
                                        " (" + es::ErrorSummary(r.body) + ").");
    }

    // --- the I/O thread -------------------------------------------------------------------------

    void StopThread() {
        if (!io_thread_.joinable()) return;
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        multi_->Wakeup();
        io_thread_.join();
    }

    void Fatal(const std::string &message) {
        std::lock_guard lock(mu_);
        if (fatal_.empty()) fatal_ = message;
        cv_.notify_all();
    }

    bool Stopping() {
        std::lock_guard lock(mu_);
        return stop_;
    }

    // An exception must not leave the thread (std::terminate): it becomes the run's SinkError,
    // thrown on the pipeline's thread by the next Write or Flush.
    void IoLoop() {
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        try {
            RunIo();
        } catch (const std::exception &e) {
            Fatal(std::string("the I/O thread failed: ") + e.what() +
                  ". Nothing past the last confirmed position is confirmed.");
        } catch (...) {
            Fatal(
                "the I/O thread failed with an unknown exception. Nothing past the last "
                "confirmed position is confirmed.");
        }
    }

    void RunIo() {
        std::vector<es::MultiClient::Completed> done;
        while (!Stopping()) {
            Dispatch();
            auto timeout = 250ms;
            auto now = Clock::now();
            for (auto &r : retries_) {
                timeout = std::min(
                    timeout,
                    std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(r.first - now)));
            }
            done.clear();
            multi_->Poll(timeout, &done);
            for (auto &c : done) Complete(c);
        }
    }

    void Dispatch() {
        {
            std::lock_guard lock(mu_);
            if (!fatal_.empty()) return;
        }
        while (multi_->free_slots() > 0) {
            std::unique_ptr<es::BulkRequest> request;
            auto now = Clock::now();
            // Retries first: they are older than anything queued, and keep their ids held.
            auto due =
                std::min_element(retries_.begin(), retries_.end(),
                                 [](const auto &a, const auto &b) { return a.first < b.first; });
            if (due != retries_.end() && due->first <= now) {
                request = std::move(due->second);
                retries_.erase(due);
            } else {
                std::lock_guard lock(mu_);
                if (queue_.empty() || !gate_.CanSend(*queue_.front())) return;
                request = std::move(queue_.front());
                queue_.pop_front();
                gate_.Hold(*request);
            }
            Send(std::move(request));
        }
    }

    void Send(std::unique_ptr<es::BulkRequest> request) {
        auto flight = std::make_unique<InFlight>();
        flight->node = io_nodes_.Pick();
        flight->request = std::move(request);
        const es::BulkRequest &r = *flight->request;
        void *tag = flight.get();
        // Item retries are rebuilt on this thread from the uncompressed body and go as they are.
        bool gzipped = !r.wire.empty();
        multi_->StartPost(es::JoinUrl(io_nodes_.url(flight->node), "/_bulk"),
                          gzipped ? r.wire : r.body, gzipped, tag);
        in_flight_.push_back(std::move(flight));
    }

    bool Compress(const std::string &in, std::string *out) {
        deflateReset(&zstream_);
        out->resize(deflateBound(&zstream_, in.size()) + 64);
        zstream_.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
        zstream_.avail_in = static_cast<uInt>(in.size());
        zstream_.next_out = reinterpret_cast<Bytef *>(out->data());
        zstream_.avail_out = static_cast<uInt>(out->size());
        if (deflate(&zstream_, Z_FINISH) != Z_STREAM_END) {
            out->clear();
            return false;
        }
        out->resize(zstream_.total_out);
        return true;
    }

    void Complete(es::MultiClient::Completed &c) {
        auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                               [&](const auto &f) { return f.get() == c.tag; });
        if (it == in_flight_.end()) return;
        std::unique_ptr<InFlight> flight = std::move(*it);
        in_flight_.erase(it);
        const std::string &node = io_nodes_.shown(flight->node);
        const es::HttpResponse &r = c.response;
        if (!r.ok()) {
            io_nodes_.Failed(flight->node);
            if (!es::RetriableCurlError(r.code)) {
                Fatal("the _bulk request to " + node + " failed: " + r.error + ". " +
                      ConnectAdvice(r));
                return;
            }
            RetryWhole(std::move(flight->request),
                       "the _bulk request to " + node + " failed: " + r.error);
            return;
        }
        io_nodes_.Succeeded(flight->node);
        switch (es::ClassifyRequestStatus(r.status)) {
            case es::RequestVerdict::kRetry:
                RetryWhole(std::move(flight->request), node + " answered _bulk with HTTP " +
                                                           std::to_string(r.status) + " (" +
                                                           es::ErrorSummary(r.body) + ")");
                return;
            case es::RequestVerdict::kFatal:
                if (r.status == 401 || r.status == 403) {
                    Fatal(node + ": " + AuthAdvice(cfg_, r.status));
                } else if (r.status == 413) {
                    Fatal(node + " refused a _bulk request of " +
                          std::to_string(flight->request->body.size()) +
                          " bytes as too large (HTTP 413). Lower 'bulk_max_bytes' below the "
                          "cluster's "
                          "http.max_content_length.");
                } else {
                    Fatal(node + " answered _bulk with HTTP " + std::to_string(r.status) + " (" +
                          es::ErrorSummary(r.body) + ").");
                }
                return;
            case es::RequestVerdict::kOk:
                break;
        }
        std::string error;
        if (!parser_.Parse(r.body, flight->request->items.size(), &results_, &error)) {
            RetryWhole(std::move(flight->request), node + ": " + error);
            return;
        }
        HandleItems(std::move(flight->request), node);
    }

    void RetryWhole(std::unique_ptr<es::BulkRequest> request, const std::string &reason) {
        ++request->attempts;
        if (request->attempts > cfg_.max_retries) {
            Fatal(reason + "; gave up after " + std::to_string(cfg_.max_retries) +
                  " retries. Nothing from the first document of that request on is confirmed; the "
                  "next run "
                  "sends it again.");
            return;
        }
        auto delay = es::BackoffDelay(backoff_, request->attempts, io_rng_);
        log::Warn(kComponent, reason + "; retrying in " + std::to_string(delay.count()) +
                                  " ms (retry " + std::to_string(request->attempts) + " of " +
                                  std::to_string(cfg_.max_retries) + ").");
        retries_.emplace_back(Clock::now() + delay, std::move(request));
    }

    void HandleItems(std::unique_ptr<es::BulkRequest> request, const std::string &node) {
        std::vector<size_t> retry, dead;
        std::string dead_lines;
        const std::string &body = request->body;
        for (size_t i = 0; i < results_.size(); ++i) {
            const es::ItemResult &res = results_[i];
            es::BulkItem &item = request->items[i];
            if (res.verdict == es::ItemVerdict::kRetry) {
                if (item.attempts >= cfg_.max_retries) {
                    Fatal(node + " rejected document '" + std::string(res.id) + "' of index '" +
                          std::string(res.index) + "' with HTTP " + std::to_string(res.status) +
                          " (" + std::string(res.error_type) + ": " + std::string(res.reason) +
                          ") " + std::to_string(cfg_.max_retries + 1) +
                          " times; gave up. Nothing from this document on is confirmed.");
                    return;
                }
                retry.push_back(i);
            } else if (res.verdict == es::ItemVerdict::kRejected) {
                std::string what =
                    "document '" + std::string(res.id) + "' of index '" + std::string(res.index) +
                    "' was rejected by " + node + " with HTTP " + std::to_string(res.status) +
                    " (" + std::string(res.error_type) + ": " + std::string(res.reason) + ")";
                if (cfg_.on_malformed == EsOnMalformed::kFail) {
                    Fatal(what +
                          ". Nothing from this document on is confirmed. Fix the data or the index "
                          "mapping, or set 'on_malformed: warn' or 'on_malformed: dead_letter'.");
                    return;
                }
                if (cfg_.on_malformed == EsOnMalformed::kWarn) {
                    log::Warn(kComponent, what + "; skipped (on_malformed: warn).");
                } else {
                    AppendDeadLetter(&dead_lines, res, body, item);
                    dead.push_back(i);
                }
            }
        }
        if (!dead_lines.empty() && !WriteDeadLetters(dead_lines)) return;
        if (!dead.empty()) {
            log::Warn(kComponent, std::to_string(dead.size()) + " document(s) rejected by " + node +
                                      " were written to the dead-letter file '" +
                                      cfg_.dead_letter_path + "'.");
        }
        // Everything that is not retried is done now.
        std::unique_ptr<es::BulkRequest> again;
        size_t next_retry = 0;
        {
            std::lock_guard lock(mu_);
            for (size_t i = 0; i < request->items.size(); ++i) {
                const es::BulkItem &item = request->items[i];
                if (next_retry < retry.size() && retry[next_retry] == i) {
                    ++next_retry;
                    continue;
                }
                gate_.Release(item);
                if (Track *t = TrackOf(item.seq); t != nullptr && t->outstanding > 0)
                    --t->outstanding;
            }
            if (retry.empty()) --outstanding_;  // a retry request takes this one's place
            cv_.notify_all();
        }
        if (!retry.empty()) {
            again = std::make_unique<es::BulkRequest>();
            int attempts = 0;
            for (size_t i : retry) {
                es::BulkItem item = request->items[i];
                ++item.attempts;
                attempts = std::max(attempts, item.attempts);
                size_t begin = again->body.size();
                again->body.append(body, item.begin, item.end - item.begin);
                item.source = begin + (item.source - item.begin);
                item.end = begin + (item.end - item.begin);
                item.begin = begin;
                again->items.push_back(item);
            }
            auto delay = es::BackoffDelay(backoff_, attempts, io_rng_);
            log::Warn(kComponent,
                      std::to_string(retry.size()) + " document(s) were rejected for now by " +
                          node + " (" + std::string(results_[retry[0]].error_type) +
                          "); retrying them in " + std::to_string(delay.count()) + " ms.");
            retries_.emplace_back(Clock::now() + delay, std::move(again));
        }
        std::lock_guard lock(mu_);
        if (finished_.size() < 8) {
            request->Clear();
            finished_.push_back(std::move(request));
        }
    }

    void AppendDeadLetter(std::string *out, const es::ItemResult &res, const std::string &body,
                          const es::BulkItem &item) {
        json::JsonWriter w(out);
        w.BeginObject();
        w.Key("index");
        w.String(res.index);
        w.Key("id");
        w.String(res.id);
        w.Key("status");
        w.Int(res.status);
        w.Key("error");
        w.BeginObject();
        w.Key("type");
        w.String(res.error_type);
        w.Key("reason");
        w.String(res.reason);
        w.EndObject();
        w.Key("action");
        w.Raw(std::string_view(body).substr(item.begin, item.source - item.begin - 1));
        w.Key("document");
        if (item.end > item.source)
            w.Raw(std::string_view(body).substr(item.source, item.end - item.source - 1));
        else
            w.Null();
        w.EndObject();
        out->push_back('\n');
    }

    // The file may have just been created: its directory entry is durable only once the
    // directory is synced, or a crash could lose the file with the lines fdatasync'd into it.
    static void SyncParentDirectory(const std::string &file) {
        std::string dir = std::filesystem::path(file).parent_path().string();
        if (dir.empty()) dir = ".";
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool ok = fd >= 0 && ::fsync(fd) == 0;
        int err = errno;
        if (fd >= 0) ::close(fd);
        if (!ok) {
            throw SinkError(kComponent, "cannot sync the directory '" + dir +
                                            "' of the dead-letter file: " + std::strerror(err) +
                                            ". Check 'dead_letter_path'.");
        }
    }

    bool WriteDeadLetters(const std::string &lines) {
        const char *p = lines.data();
        size_t left = lines.size();
        while (left > 0) {
            ssize_t n = ::write(dead_letter_fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                Fatal("writing the dead-letter file '" + cfg_.dead_letter_path +
                      "' failed: " + std::strerror(errno));
                return false;
            }
            p += n;
            left -= static_cast<size_t>(n);
        }
        if (::fdatasync(dead_letter_fd_) != 0) {
            Fatal("syncing the dead-letter file '" + cfg_.dead_letter_path +
                  "' failed: " + std::strerror(errno));
            return false;
        }
        return true;
    }

    ElasticsearchSinkConfig cfg_;
    SinkContext ctx_;

    // The pipeline's thread.
    es::BulkEncoder encoder_;
    es::BulkAssembler assembler_;
    std::vector<std::unique_ptr<es::BulkRequest>> sealed_;
    std::unique_ptr<es::HttpClient> sync_;
    NodeSet sync_nodes_;
    std::unordered_set<std::string> known_indices_;
    const TableSchema *last_ensured_ = nullptr;
    uint64_t written_seq_ = 0;
    z_stream zstream_{};
    bool zstream_ready_ = false;

    // Shared, under mu_.
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<es::BulkRequest>> queue_;
    std::deque<Track> tracks_;
    int64_t outstanding_ = 0;  // requests queued, in flight or waiting to be retried
    uint64_t durable_seq_ = 0;
    std::string fatal_;
    bool stop_ = false;
    es::IdGate gate_;
    std::vector<std::unique_ptr<es::BulkRequest>> finished_;

    // The I/O thread.
    std::thread io_thread_;
    std::unique_ptr<es::MultiClient> multi_;
    NodeSet io_nodes_;
    std::vector<std::unique_ptr<InFlight>> in_flight_;
    std::vector<std::pair<Clock::time_point, std::unique_ptr<es::BulkRequest>>> retries_;
    es::BulkResponseParser parser_;
    std::vector<es::ItemResult> results_;
    int dead_letter_fd_ = -1;

    es::BackoffPolicy backoff_;
    std::mt19937_64 rng_;     // the pipeline's thread
    std::mt19937_64 io_rng_;  // the I/O thread
};

}  // namespace

std::unique_ptr<Sink> MakeElasticsearchSink(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx) {
    return std::make_unique<ElasticsearchSink>(cfg, ctx);
}

std::vector<CheckResult> CheckElasticsearch(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx) {
    std::vector<CheckResult> results;
    es::HttpClient client(OptionsOf(cfg));
    if (cfg.insecure) {
        results.push_back(
            {"tls", true,
             "certificate verification is off (insecure: true); use 'ca_file' outside tests"});
    }
    std::string good_node;
    for (const std::string &url : cfg.Nodes()) {
        std::string shown = es::RedactUrl(url);
        CheckResult line{"elasticsearch " + shown, false, ""};
        es::HttpResponse r = client.Do("GET", es::JoinUrl(url, "/"));
        ClusterInfo info;
        if (!r.ok()) {
            line.detail = "cannot connect: " + r.error + ". " + ConnectAdvice(r);
        } else if (r.status == 401 || r.status == 403) {
            line.detail = AuthAdvice(cfg, r.status);
        } else if (r.status != 200 || !ParseClusterInfo(r.body, &info)) {
            line.detail = "answered GET / with HTTP " + std::to_string(r.status) + " (" +
                          es::ErrorSummary(r.body) + "); is it Elasticsearch or OpenSearch?";
        } else if (std::string why = info.Unsupported(); !why.empty()) {
            line.detail = why;
        } else {
            line.ok = true;
            line.detail = info.Describe() + ", reachable";
            if (good_node.empty()) good_node = url;
        }
        results.push_back(line);
    }
    if (good_node.empty()) return results;
    if (!cfg.user.empty())
        results.push_back({"authentication", true, "basic auth as '" + cfg.user + "' accepted"});
    else if (!cfg.api_key.empty())
        results.push_back({"authentication", true, "API key accepted"});
    else
        results.push_back({"authentication", true,
                           "no credentials configured; the cluster accepts anonymous requests"});

    if (cfg.index.find("${") != std::string::npos) {
        std::string form = cfg.index;
        auto replace = [&](const std::string &from, const std::string &to) {
            for (size_t at = form.find(from); at != std::string::npos;
                 at = form.find(from, at + to.size())) {
                form.replace(at, from.size(), to);
            }
        };
        replace("${topic}", ctx.topic_prefix + ".<schema>.<table>");
        replace("${schema}", "<schema>");
        replace("${table}", "<table>");
        results.push_back(
            {"index", true,
             "'" + cfg.index + "' names one index per table, '" + form +
                 "' lowercased; a missing one is created on first write with a mapping from "
                 "the table's columns, an existing one is used as it is"});
        return results;
    }
    es::HttpResponse r = client.Do("HEAD", es::JoinUrl(good_node, "/" + PercentEncode(cfg.index)));
    CheckResult line{"index '" + cfg.index + "'", false, ""};
    if (!r.ok()) {
        line.detail = "cannot look it up: " + r.error;
    } else if (r.status == 200) {
        line.ok = true;
        line.detail = "exists; it is used as it is";
    } else if (r.status == 404) {
        line.ok = true;
        line.detail =
            "does not exist yet; created on first write with a mapping from the table's columns";
    } else if (r.status == 401 || r.status == 403) {
        line.detail = AuthAdvice(cfg, r.status);
    } else {
        line.detail = "HEAD answered HTTP " + std::to_string(r.status);
    }
    results.push_back(line);
    return results;
}

}  // namespace cdcctl
