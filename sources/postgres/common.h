// What the files of the PostgreSQL source share: the component name every error and log line
// carries, and ownership of the buffers libpq's COPY protocol hands out. PQgetCopyData returns
// each CopyData message (a COPY row, a replication message) in a buffer the caller must release
// with PQfreemem; taking it into a CopyBuffer at once means no path, thrown or not, leaks it.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sources/postgres/pg_connection.h"

namespace cdcctl::postgres {

using Clock = std::chrono::steady_clock;

inline constexpr const char *kComponent = "postgres";

// Unix milliseconds now: ChangeEvent::ts_ms, and the ts_ms of snapshot reads.
inline int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string Join(const std::vector<std::string> &items, const char *sep) {
    std::string out;
    for (const auto &i : items) out += (out.empty() ? "" : sep) + i;
    return out;
}

using CopyBuffer = std::unique_ptr<char, pg::Free<PQfreemem>>;

// PQgetCopyData, with the buffer owned by `buffer` (empty unless the result is > 0, or >= 0 for a
// blocking read). Returns what PQgetCopyData returns: the length, 0 (async: nothing yet), -1
// (the COPY ended) or -2 (an error).
inline int GetCopyData(PGconn *conn, CopyBuffer *buffer, bool async) {
    char *buf = nullptr;
    int n = PQgetCopyData(conn, &buf, async ? 1 : 0);
    buffer->reset(buf);
    return n;
}

}  // namespace cdcctl::postgres
