#include "sinks/elasticsearch/bulk_sender.h"

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"

namespace cdcctl::es {
namespace {

using namespace std::chrono_literals;
constexpr const char *kComponent = "elasticsearch";

}  // namespace

BulkSender::BulkSender(const ElasticsearchSinkConfig &cfg, BulkAssembler &assembler,
                       DeadLetterFile *dead_letter)
    : cfg_(cfg),
      assembler_(assembler),
      io_nodes_(cfg.Nodes()),
      dead_letter_(dead_letter),
      io_rng_(std::random_device{}()) {}

BulkSender::~BulkSender() {
    Stop();
    if (zstream_ready_) deflateEnd(&zstream_);
}

// --- the pipeline's thread ----------------------------------------------------------------------

void BulkSender::Start() {
    if (cfg_.gzip) {
        std::memset(&zstream_, 0, sizeof(zstream_));
        if (deflateInit2(&zstream_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            throw SinkError(kComponent, "zlib could not be initialised");
        }
        zstream_ready_ = true;
    }
    multi_ = std::make_unique<MultiClient>(HttpOptionsOf(cfg_), static_cast<int>(cfg_.concurrency));
    io_thread_ = std::thread([this] { IoLoop(); });
}

void BulkSender::Stop() {
    if (!io_thread_.joinable()) return;
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    multi_->Wakeup();
    io_thread_.join();
}

void BulkSender::CheckFatal() {
    std::lock_guard lock(mu_);
    if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
}

void BulkSender::BeginBatch(uint64_t seq) {
    std::lock_guard lock(mu_);
    tracks_.push_back({seq, 0});
}

BulkSender::Track *BulkSender::TrackOf(uint64_t seq) {
    if (tracks_.empty()) return nullptr;
    uint64_t first = tracks_.front().seq;
    if (seq >= first && seq - first < tracks_.size() && tracks_[seq - first].seq == seq)
        return &tracks_[seq - first];
    for (auto &t : tracks_) {
        if (t.seq == seq) return &t;
    }
    return nullptr;
}

// Compressed here rather than on the I/O thread, which then only waits on sockets and reads
// responses, so that compression overlaps with the requests in flight instead of delaying the
// next one.
void BulkSender::Push(std::vector<std::unique_ptr<BulkRequest>> *sealed) {
    if (cfg_.gzip) {
        for (auto &request : *sealed) {
            if (!Compress(request->body, &request->wire)) {
                throw SinkError(kComponent, "gzip compression of a _bulk body failed (zlib error)");
            }
        }
    }
    {
        std::lock_guard lock(mu_);
        for (auto &request : *sealed) {
            for (const BulkItem &item : request->items) {
                if (Track *t = TrackOf(item.seq)) ++t->outstanding;
            }
            queue_.push_back(std::move(request));
            ++outstanding_;
        }
        RecycleLocked();
    }
    sealed->clear();
    multi_->Wakeup();
}

void BulkSender::EndBatch(uint64_t seq) {
    written_seq_ = seq;
    std::unique_lock lock(mu_);
    while (outstanding_ > cfg_.concurrency && fatal_.empty() && !signals::StopRequested()) {
        cv_.wait_for(lock, 100ms);
    }
    if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
}

void BulkSender::WaitIdle(std::chrono::milliseconds max_wait) {
    auto deadline = Clock::now() + max_wait;
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return outstanding_ == 0 || !fatal_.empty(); });
    if (!fatal_.empty()) throw SinkError(kComponent, fatal_);
    RecycleLocked();
}

uint64_t BulkSender::DurableSeq() {
    std::lock_guard lock(mu_);
    while (!tracks_.empty() && tracks_.front().outstanding == 0 &&
           tracks_.front().seq <= written_seq_ &&
           (assembler_.empty() || tracks_.front().seq < assembler_.first_seq())) {
        durable_seq_ = tracks_.front().seq;
        tracks_.pop_front();
    }
    return durable_seq_;
}

void BulkSender::RecycleLocked() {
    for (auto &r : finished_) assembler_.Recycle(std::move(r));
    finished_.clear();
}

bool BulkSender::Compress(const std::string &in, std::string *out) {
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

// --- the I/O thread -----------------------------------------------------------------------------

void BulkSender::Fatal(const std::string &message) {
    std::lock_guard lock(mu_);
    if (fatal_.empty()) fatal_ = message;
    cv_.notify_all();
}

bool BulkSender::Stopping() {
    std::lock_guard lock(mu_);
    return stop_;
}

// An exception must not leave the thread (std::terminate): it becomes the run's SinkError,
// thrown on the pipeline's thread by the next Write or Flush.
void BulkSender::IoLoop() {
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

void BulkSender::RunIo() {
    std::vector<MultiClient::Completed> done;
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

void BulkSender::Dispatch() {
    {
        std::lock_guard lock(mu_);
        if (!fatal_.empty()) return;
    }
    while (multi_->free_slots() > 0) {
        std::unique_ptr<BulkRequest> request;
        auto now = Clock::now();
        // Retries first: they are older than anything queued, and keep their ids held.
        auto due = std::min_element(retries_.begin(), retries_.end(),
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

void BulkSender::Send(std::unique_ptr<BulkRequest> request) {
    auto flight = std::make_unique<InFlight>();
    flight->node = io_nodes_.Pick();
    flight->request = std::move(request);
    const BulkRequest &r = *flight->request;
    void *tag = flight.get();
    // Item retries are rebuilt on this thread from the uncompressed body and go as they are.
    bool gzipped = !r.wire.empty();
    multi_->StartPost(JoinUrl(io_nodes_.url(flight->node), "/_bulk"), gzipped ? r.wire : r.body,
                      gzipped, tag);
    in_flight_.push_back(std::move(flight));
}

void BulkSender::Complete(MultiClient::Completed &c) {
    auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                           [&](const auto &f) { return f.get() == c.tag; });
    if (it == in_flight_.end()) return;
    std::unique_ptr<InFlight> flight = std::move(*it);
    in_flight_.erase(it);
    const std::string &node = io_nodes_.shown(flight->node);
    const HttpResponse &r = c.response;
    if (!r.ok()) {
        io_nodes_.Failed(flight->node);
        if (!RetriableCurlError(r.code)) {
            Fatal("the _bulk request to " + node + " failed: " + r.error + ". " + ConnectAdvice(r));
            return;
        }
        RetryWhole(std::move(flight->request),
                   "the _bulk request to " + node + " failed: " + r.error);
        return;
    }
    io_nodes_.Succeeded(flight->node);
    switch (ClassifyRequestStatus(r.status)) {
        case RequestVerdict::kRetry:
            RetryWhole(std::move(flight->request), node + " answered _bulk with HTTP " +
                                                       std::to_string(r.status) + " (" +
                                                       ErrorSummary(r.body) + ")");
            return;
        case RequestVerdict::kFatal:
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
                      ErrorSummary(r.body) + ").");
            }
            return;
        case RequestVerdict::kOk:
            break;
    }
    std::string error;
    if (!parser_.Parse(r.body, flight->request->items.size(), &results_, &error)) {
        RetryWhole(std::move(flight->request), node + ": " + error);
        return;
    }
    HandleItems(std::move(flight->request), node);
}

void BulkSender::RetryWhole(std::unique_ptr<BulkRequest> request, const std::string &reason) {
    ++request->attempts;
    if (request->attempts > cfg_.max_retries) {
        Fatal(reason + "; gave up after " + std::to_string(cfg_.max_retries) +
              " retries. Nothing from the first document of that request on is confirmed; the "
              "next run "
              "sends it again.");
        return;
    }
    auto delay = BackoffDelay(backoff_, request->attempts, io_rng_);
    log::Warn(kComponent, reason + "; retrying in " + std::to_string(delay.count()) +
                              " ms (retry " + std::to_string(request->attempts) + " of " +
                              std::to_string(cfg_.max_retries) + ").");
    retries_.emplace_back(Clock::now() + delay, std::move(request));
}

void BulkSender::HandleItems(std::unique_ptr<BulkRequest> request, const std::string &node) {
    std::vector<size_t> retry, dead;
    std::string dead_lines;
    const std::string &body = request->body;
    for (size_t i = 0; i < results_.size(); ++i) {
        const ItemResult &res = results_[i];
        BulkItem &item = request->items[i];
        if (res.verdict == ItemVerdict::kRetry) {
            if (item.attempts >= cfg_.max_retries) {
                Fatal(node + " rejected document '" + std::string(res.id) + "' of index '" +
                      std::string(res.index) + "' with HTTP " + std::to_string(res.status) + " (" +
                      std::string(res.error_type) + ": " + std::string(res.reason) + ") " +
                      std::to_string(cfg_.max_retries + 1) +
                      " times; gave up. Nothing from this document on is confirmed.");
                return;
            }
            retry.push_back(i);
        } else if (res.verdict == ItemVerdict::kRejected) {
            std::string what = "document '" + std::string(res.id) + "' of index '" +
                               std::string(res.index) + "' was rejected by " + node +
                               " with HTTP " + std::to_string(res.status) + " (" +
                               std::string(res.error_type) + ": " + std::string(res.reason) + ")";
            if (cfg_.on_malformed == EsOnMalformed::kFail) {
                Fatal(what +
                      ". Nothing from this document on is confirmed. Fix the data or the index "
                      "mapping, or set 'on_malformed: warn' or 'on_malformed: dead_letter'.");
                return;
            }
            if (cfg_.on_malformed == EsOnMalformed::kWarn) {
                log::Warn(kComponent, what + "; skipped (on_malformed: warn).");
            } else {
                DeadLetterFile::AppendLine(&dead_lines, res, body, item);
                dead.push_back(i);
            }
        }
    }
    if (!dead_lines.empty()) {
        std::string error;
        if (!dead_letter_->Write(dead_lines, &error)) {
            Fatal(error);
            return;
        }
    }
    if (!dead.empty()) {
        log::Warn(kComponent, std::to_string(dead.size()) + " document(s) rejected by " + node +
                                  " were written to the dead-letter file '" +
                                  cfg_.dead_letter_path + "'.");
    }
    // Everything that is not retried is done now.
    std::unique_ptr<BulkRequest> again;
    size_t next_retry = 0;
    {
        std::lock_guard lock(mu_);
        for (size_t i = 0; i < request->items.size(); ++i) {
            const BulkItem &item = request->items[i];
            if (next_retry < retry.size() && retry[next_retry] == i) {
                ++next_retry;
                continue;
            }
            gate_.Release(item);
            if (Track *t = TrackOf(item.seq); t != nullptr && t->outstanding > 0) --t->outstanding;
        }
        if (retry.empty()) --outstanding_;  // a retry request takes this one's place
        cv_.notify_all();
    }
    if (!retry.empty()) {
        again = std::make_unique<BulkRequest>();
        int attempts = 0;
        for (size_t i : retry) {
            BulkItem item = request->items[i];
            ++item.attempts;
            attempts = std::max(attempts, item.attempts);
            size_t begin = again->body.size();
            again->body.append(body, item.begin, item.end - item.begin);
            item.source = begin + (item.source - item.begin);
            item.end = begin + (item.end - item.begin);
            item.begin = begin;
            again->items.push_back(item);
        }
        auto delay = BackoffDelay(backoff_, attempts, io_rng_);
        log::Warn(kComponent, std::to_string(retry.size()) +
                                  " document(s) were rejected for now by " + node + " (" +
                                  std::string(results_[retry[0]].error_type) +
                                  "); retrying them in " + std::to_string(delay.count()) + " ms.");
        retries_.emplace_back(Clock::now() + delay, std::move(again));
    }
    std::lock_guard lock(mu_);
    if (finished_.size() < 8) {
        request->Clear();
        finished_.push_back(std::move(request));
    }
}

}  // namespace cdcctl::es
