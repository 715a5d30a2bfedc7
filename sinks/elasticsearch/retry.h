// When to retry a _bulk request or item, and how long to wait first.
//
// Whole requests: 429 (the node's queues are full), 502/503/504 (a proxy or the cluster is not
// ready) and connection failures are passing conditions; everything else (400 for a malformed
// body, 401/403, 413 a body too large) will fail the same way again. Items: 429
// (es_rejected_execution_exception) and 5xx are retried one by one; 409 (version conflict: the
// document already holds this or a newer version, e.g. on a replay) and 404 of a delete
// (nothing to delete) count as done; other 4xx are the document's fault (on_malformed).
//
// Backoff: exponential with jitter, attempt n (1-based) waits a uniformly random time in
// [d/2, d] with d = min(cap, base * 2^(n-1)), so that concurrent retries spread out but the wait
// never shrinks below half its nominal value.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace cdcctl::es {

enum class RequestVerdict { kOk, kRetry, kFatal };
RequestVerdict ClassifyRequestStatus(long status);

enum class ItemVerdict { kDone, kRetry, kRejected };
// `has_error`: the item carries an "error" object.
ItemVerdict ClassifyItemStatus(int status, bool has_error);

struct BackoffPolicy {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{10000};
};

std::chrono::milliseconds BackoffDelay(const BackoffPolicy &policy, int attempt,
                                       std::mt19937_64 &rng);

}  // namespace cdcctl::es
