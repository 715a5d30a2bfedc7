// Reaching the cluster: its nodes are used round robin so that load spreads and one node down
// does not stop the run, and GET / tells what answers before anything is written, so that a
// wrong URL, refused credentials or a too old version stop the run at Open with advice instead
// of at the first _bulk request.
//
// Versions: GET / tells Elasticsearch 7.x/8.x from OpenSearch 1.x/2.x (version.distribution).
// All of them accept the same typeless requests (_bulk without _type, PUT /<index> with
// {"mappings":{"properties":..}}, external_gte versions), so nothing else differs; Elasticsearch
// before 7.0 needs a _type and is refused.
#pragma once

#include <chrono>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/elasticsearch/es_config.h"
#include "sinks/elasticsearch/http_client.h"
#include "sinks/elasticsearch/retry.h"

namespace cdcctl::es {

// What GET / says about the cluster.
struct ClusterInfo {
    std::string number;
    bool opensearch = false;
    int major = 0;
    std::string Describe() const;
    // Empty when supported, else why not.
    std::string Unsupported() const;
};

// False when `body` is not a GET / answer of Elasticsearch or OpenSearch.
bool ParseClusterInfo(const std::string &body, ClusterInfo *info);

// The HTTP options (credentials, TLS, timeout) the config asks for.
HttpOptions HttpOptionsOf(const ElasticsearchSinkConfig &cfg);

// What to do about a failed connection (a TLS failure points at 'ca_file').
std::string ConnectAdvice(const HttpResponse &r);
// What to do about a 401 or 403, naming the credentials that were configured.
std::string AuthAdvice(const ElasticsearchSinkConfig &cfg, long status);

// The nodes of the cluster, used round robin; one that failed is skipped for a while (1 s,
// doubling to 30 s) unless every node is down. Not thread-safe: each thread has its own.
class NodeSet {
public:
    explicit NodeSet(std::vector<std::string> urls);
    size_t Pick();
    void Failed(size_t n);
    void Succeeded(size_t n);
    const std::string &url(size_t n) const { return nodes_[n].url; }
    const std::string &shown(size_t n) const { return nodes_[n].shown; }
    size_t size() const { return nodes_.size(); }

private:
    struct Node {
        std::string url, shown;
        std::chrono::steady_clock::time_point dead_until;
        int failures;
    };
    std::vector<Node> nodes_;
    size_t next_ = 0;
};

// Blocking requests for setup on the pipeline's thread (GET /, HEAD and PUT /<index>); the
// _bulk requests go through the BulkSender's I/O thread instead.
class SetupClient {
public:
    // `cfg` must outlive the client.
    explicit SetupClient(const ElasticsearchSinkConfig &cfg);

    // Tried on the nodes in turn: connection failures and 429/502/503/504 are retried up to
    // max_retries times with backoff. *node is the node that gave the answer.
    HttpResponse Do(const std::string &method, const std::string &path, std::string_view body,
                    std::string_view content_type, size_t *node);
    // GET /: logs which cluster answered, or throws ConnectError when none is reachable, the
    // credentials are refused, it is not Elasticsearch or OpenSearch, or its version is too old.
    ClusterInfo Connect();

    const std::string &shown(size_t node) const { return nodes_.shown(node); }

private:
    const ElasticsearchSinkConfig &cfg_;
    HttpClient http_;
    NodeSet nodes_;
    BackoffPolicy backoff_;
    std::mt19937_64 rng_;
};

}  // namespace cdcctl::es
