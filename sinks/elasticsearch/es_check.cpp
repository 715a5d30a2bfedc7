// `cdcctl check` for the Elasticsearch sink: asks each node what it is, and says what would happen
// to the index, without creating or changing anything, so that it can run against a live cluster.
#include <string>
#include <vector>

#include "sinks/elasticsearch/bulk_response.h"
#include "sinks/elasticsearch/es_sink.h"
#include "sinks/elasticsearch/http_client.h"
#include "sinks/elasticsearch/index_manager.h"
#include "sinks/elasticsearch/node_set.h"

namespace cdcctl {

std::vector<CheckResult> CheckElasticsearch(const ElasticsearchSinkConfig &cfg,
                                            const SinkContext &ctx) {
    std::vector<CheckResult> results;
    es::HttpClient client(es::HttpOptionsOf(cfg));
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
        es::ClusterInfo info;
        if (!r.ok()) {
            line.detail = "cannot connect: " + r.error + ". " + es::ConnectAdvice(r);
        } else if (r.status == 401 || r.status == 403) {
            line.detail = es::AuthAdvice(cfg, r.status);
        } else if (r.status != 200 || !es::ParseClusterInfo(r.body, &info)) {
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
    es::HttpResponse r =
        client.Do("HEAD", es::JoinUrl(good_node, "/" + es::PercentEncode(cfg.index)));
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
        line.detail = es::AuthAdvice(cfg, r.status);
    } else {
        line.detail = "HEAD answered HTTP " + std::to_string(r.status);
    }
    results.push_back(line);
    return results;
}

}  // namespace cdcctl
