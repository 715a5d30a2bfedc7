// Sending _bulk requests and deciding what is durable. Encoding stays on the pipeline's thread;
// an I/O thread sends up to `concurrency` requests at once through curl's multi interface, so
// that the cluster's indexing overlaps with the encoding of the next request instead of waiting
// for it, and the pipeline's thread never blocks on a socket.
//
// The I/O thread reads each response item by item and retries what failed for a passing reason
// (retry.h), whole requests and single items alike, with backoff. Two writes of one document
// never race (IdGate). A batch becomes durable (DurableSeq) once every item of it and of every
// earlier batch is done: indexed, found already at that version (409), or rejected for good and
// then warned about or written to the dead-letter file, as on_malformed says. Anything else stops
// the run with a SinkError naming the node and the error, thrown on the pipeline's thread by the
// next call, and nothing past it is confirmed.
#pragma once

#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/bulk_response.h"
#include "sinks/elasticsearch/dead_letter.h"
#include "sinks/elasticsearch/es_config.h"
#include "sinks/elasticsearch/http_client.h"
#include "sinks/elasticsearch/node_set.h"
#include "sinks/elasticsearch/retry.h"

namespace cdcctl::es {

class BulkSender {
public:
    // `cfg`, `assembler` (whose requests are sent, then given back to it for reuse) and
    // `dead_letter` (opened before Start when on_malformed is dead_letter) must outlive the sender.
    BulkSender(const ElasticsearchSinkConfig &cfg, BulkAssembler &assembler,
               DeadLetterFile *dead_letter);
    ~BulkSender();

    // --- the pipeline's thread ---

    // Prepares gzip and starts the I/O thread.
    void Start();
    // Stops the I/O thread; what is still in flight is abandoned (it is not confirmed).
    void Stop();

    // Throws the I/O thread's error as a SinkError, if it had one.
    void CheckFatal();
    // The documents of batch `seq` follow.
    void BeginBatch(uint64_t seq);
    // Hands the sealed requests to the I/O thread and clears `sealed`.
    void Push(std::vector<std::unique_ptr<BulkRequest>> *sealed);
    // Every document of batch `seq` is encoded. Backpressure: waits while `concurrency` requests
    // are in flight and one more is waiting, besides the one being filled.
    void EndBatch(uint64_t seq);
    // Waits up to `max_wait` for every request pushed so far to be done.
    void WaitIdle(std::chrono::milliseconds max_wait);
    // The highest batch seq whose documents, and those of every earlier batch, are done.
    uint64_t DurableSeq();

private:
    using Clock = std::chrono::steady_clock;

    struct Track {
        uint64_t seq;
        size_t outstanding;  // items sent or waiting to be, not yet done
    };
    struct InFlight {
        std::unique_ptr<BulkRequest> request;
        size_t node = 0;
    };

    Track *TrackOf(uint64_t seq);  // under mu_
    void RecycleLocked();
    bool Compress(const std::string &in, std::string *out);

    // The I/O thread.
    void Fatal(const std::string &message);
    bool Stopping();
    void IoLoop();
    void RunIo();
    void Dispatch();
    void Send(std::unique_ptr<BulkRequest> request);
    void Complete(MultiClient::Completed &c);
    void RetryWhole(std::unique_ptr<BulkRequest> request, const std::string &reason);
    void HandleItems(std::unique_ptr<BulkRequest> request, const std::string &node);

    const ElasticsearchSinkConfig &cfg_;

    // The pipeline's thread.
    BulkAssembler &assembler_;
    uint64_t written_seq_ = 0;
    z_stream zstream_{};
    bool zstream_ready_ = false;

    // Shared, under mu_.
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<BulkRequest>> queue_;
    std::deque<Track> tracks_;
    int64_t outstanding_ = 0;  // requests queued, in flight or waiting to be retried
    uint64_t durable_seq_ = 0;
    std::string fatal_;
    bool stop_ = false;
    IdGate gate_;
    std::vector<std::unique_ptr<BulkRequest>> finished_;

    // The I/O thread.
    std::thread io_thread_;
    std::unique_ptr<MultiClient> multi_;
    NodeSet io_nodes_;
    std::vector<std::unique_ptr<InFlight>> in_flight_;
    std::vector<std::pair<Clock::time_point, std::unique_ptr<BulkRequest>>> retries_;
    BulkResponseParser parser_;
    std::vector<ItemResult> results_;
    DeadLetterFile *dead_letter_;
    BackoffPolicy backoff_;
    std::mt19937_64 io_rng_;
};

}  // namespace cdcctl::es
