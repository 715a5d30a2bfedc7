#include "sinks/elasticsearch/retry.h"

#include <algorithm>

namespace cdcctl::es {

RequestVerdict ClassifyRequestStatus(long status) {
    if (status >= 200 && status < 300) return RequestVerdict::kOk;
    if (status == 429 || status == 502 || status == 503 || status == 504)
        return RequestVerdict::kRetry;
    return RequestVerdict::kFatal;
}

ItemVerdict ClassifyItemStatus(int status, bool has_error) {
    if (status >= 200 && status < 300) return ItemVerdict::kDone;
    if (status == 409) return ItemVerdict::kDone;                // already at this version or newer
    if (status == 404 && !has_error) return ItemVerdict::kDone;  // a delete of nothing
    if (status == 429 || status >= 500) return ItemVerdict::kRetry;
    return ItemVerdict::kRejected;
}

std::chrono::milliseconds BackoffDelay(const BackoffPolicy &policy, int attempt,
                                       std::mt19937_64 &rng) {
    int64_t base = std::max<int64_t>(1, policy.base.count());
    int64_t cap = std::max<int64_t>(base, policy.cap.count());
    int shift = std::clamp(attempt - 1, 0, 30);
    int64_t d = std::min<int64_t>(cap, base << shift);
    std::uniform_int_distribution<int64_t> dist(d / 2, d);
    return std::chrono::milliseconds(dist(rng));
}

}  // namespace cdcctl::es
