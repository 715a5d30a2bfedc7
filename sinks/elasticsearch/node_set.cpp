#include "sinks/elasticsearch/node_set.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/runtime/log.h"
#include "core/runtime/signals.h"
#include "sinks/elasticsearch/bulk_response.h"

namespace cdcctl::es {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr const char *kComponent = "elasticsearch";

}  // namespace

std::string ClusterInfo::Describe() const {
    return (opensearch ? "OpenSearch " : "Elasticsearch ") + number;
}

std::string ClusterInfo::Unsupported() const {
    if (!opensearch && major < 7) {
        return "Elasticsearch " + number +
               " is not supported: cdcctl needs 7.x or later (or OpenSearch 1.x or later), "
               "whose APIs have no mapping types";
    }
    return "";
}

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

HttpOptions HttpOptionsOf(const ElasticsearchSinkConfig &cfg) {
    HttpOptions o;
    o.user = cfg.user;
    o.password = cfg.password.value;
    o.api_key = cfg.api_key.value;
    o.ca_file = cfg.ca_file;
    o.insecure = cfg.insecure;
    o.timeout = cfg.timeout;
    return o;
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

std::string ConnectAdvice(const HttpResponse &r) {
    std::string advice = "Check 'url' and that the node is running.";
    if (r.code == CURLE_PEER_FAILED_VERIFICATION || r.code == CURLE_SSL_CACERT_BADFILE ||
        r.code == CURLE_SSL_CONNECT_ERROR) {
        advice =
            "Check that 'ca_file' holds the certificate authority of the cluster's certificate.";
    }
    return advice;
}

NodeSet::NodeSet(std::vector<std::string> urls) {
    for (auto &u : urls) nodes_.push_back({u, RedactUrl(u), {}, 0});
}

size_t NodeSet::Pick() {
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

void NodeSet::Failed(size_t n) {
    auto &node = nodes_[n];
    node.failures = std::min(node.failures + 1, 6);
    node.dead_until = Clock::now() +
                      std::min<std::chrono::milliseconds>(30s, 1000ms * (1 << (node.failures - 1)));
}

void NodeSet::Succeeded(size_t n) {
    nodes_[n].failures = 0;
    nodes_[n].dead_until = {};
}

SetupClient::SetupClient(const ElasticsearchSinkConfig &cfg)
    : cfg_(cfg), http_(HttpOptionsOf(cfg)), nodes_(cfg.Nodes()), rng_(std::random_device{}()) {}

HttpResponse SetupClient::Do(const std::string &method, const std::string &path,
                             std::string_view body, std::string_view content_type, size_t *node) {
    HttpResponse r;
    for (int attempt = 0;; ++attempt) {
        *node = nodes_.Pick();
        r = http_.Do(method, JoinUrl(nodes_.url(*node), path), body, content_type);
        bool retry = !r.ok() ? RetriableCurlError(r.code)
                             : ClassifyRequestStatus(r.status) == RequestVerdict::kRetry;
        if (!r.ok())
            nodes_.Failed(*node);
        else
            nodes_.Succeeded(*node);
        if (!retry || attempt >= cfg_.max_retries) return r;
        auto delay = BackoffDelay(backoff_, attempt + 1, rng_);
        log::Warn(kComponent, method + " " + path + " on " + nodes_.shown(*node) + " failed (" +
                                  (r.ok() ? "HTTP " + std::to_string(r.status) : r.error) +
                                  "); retrying in " + std::to_string(delay.count()) + " ms.");
        if (signals::AbortRequested()) return r;
        std::this_thread::sleep_for(delay);
    }
}

ClusterInfo SetupClient::Connect() {
    size_t node = 0;
    HttpResponse r = Do("GET", "/", {}, {}, &node);
    if (!r.ok()) {
        throw ConnectError(kComponent, "cannot reach Elasticsearch at " + nodes_.shown(node) +
                                           ": " + r.error + ". " + ConnectAdvice(r));
    }
    if (r.status == 401 || r.status == 403) {
        throw ConnectError(kComponent, nodes_.shown(node) + ": " + AuthAdvice(cfg_, r.status));
    }
    ClusterInfo info;
    if (r.status != 200 || !ParseClusterInfo(r.body, &info)) {
        throw ConnectError(kComponent, nodes_.shown(node) + " answered GET / with HTTP " +
                                           std::to_string(r.status) + " (" + ErrorSummary(r.body) +
                                           "); is it Elasticsearch or OpenSearch?");
    }
    if (std::string why = info.Unsupported(); !why.empty())
        throw ConnectError(kComponent, why + ".");
    log::Info(kComponent, "Connected to " + info.Describe() + " at " + nodes_.shown(node) + ".");
    return info;
}

}  // namespace cdcctl::es
