// The dead-letter file (on_malformed: dead_letter): documents the cluster rejected for good are
// kept there, one JSON line each, instead of stopping the run. A rejected document counts as done
// and lets its batch be confirmed, so its line must be on disk first: every write is fdatasync'd
// and the file's directory entry is synced when it is opened.
//
// Line format: {"index":..,"id":..,"status":N,"error":{"type":..,"reason":..},
//               "action":{the _bulk action line},"document":{the source line} or null}
#pragma once

#include <string>

#include "sinks/elasticsearch/bulk_request.h"
#include "sinks/elasticsearch/bulk_response.h"

namespace cdcctl::es {

class DeadLetterFile {
public:
    DeadLetterFile() = default;
    DeadLetterFile(const DeadLetterFile &) = delete;
    DeadLetterFile &operator=(const DeadLetterFile &) = delete;
    ~DeadLetterFile();

    // Opens `path` for appending, creating it if need be, and syncs its directory; throws
    // SinkError naming 'dead_letter_path' when either fails.
    void Open(const std::string &path);

    // Appends the line for `item` of the request `body`, which the cluster answered with `res`.
    static void AppendLine(std::string *out, const ItemResult &res, const std::string &body,
                           const BulkItem &item);
    // Writes `lines` and syncs them. On failure returns false and sets *error.
    bool Write(const std::string &lines, std::string *error);

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace cdcctl::es
