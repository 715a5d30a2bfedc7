// What the user writes under `sink:` for `type: elasticsearch`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/secret.h"
#include "core/config/spec.h"

namespace cdcctl {

enum class EsDocument { kRow, kEnvelope };
enum class EsIdMode { kKey, kPosition, kNone };
enum class EsOnDelete { kDelete, kIgnore };
enum class EsOnMalformed { kFail, kWarn, kDeadLetter };

struct ElasticsearchSinkConfig {
    std::string url;                // one node, or
    std::vector<std::string> urls;  // several, used round robin with failover
    std::string index = "${topic}";  // ${topic}, ${schema}, ${table} are filled in per event
    EsDocument document = EsDocument::kRow;
    EsIdMode id = EsIdMode::kKey;
    std::string user;
    Secret password;
    Secret api_key;
    std::string ca_file;
    bool insecure = false;
    EsOnDelete on_delete = EsOnDelete::kDelete;
    EsOnMalformed on_malformed = EsOnMalformed::kFail;
    std::string dead_letter_path;
    int64_t bulk_max_bytes = int64_t{5} << 20;
    int64_t bulk_max_docs = 1000;
    int64_t concurrency = 2;
    int64_t max_retries = 10;
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
    bool gzip = true;

    // url or urls, whichever was given.
    std::vector<std::string> Nodes() const { return url.empty() ? urls : std::vector{url}; }
};

// Every key of `sink:` when `type: elasticsearch`.
const StructSpec<ElasticsearchSinkConfig> &ElasticsearchSinkSpec();

}  // namespace cdcctl
