#include "sinks/elasticsearch/index_manager.h"

#include <cctype>

#include "core/error.h"
#include "core/runtime/log.h"
#include "sinks/elasticsearch/bulk_response.h"
#include "sinks/elasticsearch/index_mapping.h"

namespace cdcctl::es {
namespace {

constexpr const char *kComponent = "elasticsearch";

}  // namespace

std::string PercentEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

void IndexManager::EnsureSlow(const TableSchemaPtr &table) {
    const std::string &index = encoder_.IndexOf(table);
    if (known_indices_.count(index) == 0) {
        std::string path = "/" + PercentEncode(index);
        size_t node = 0;
        HttpResponse r = setup_.Do("HEAD", path, {}, {}, &node);
        if (r.ok() && r.status == 404) {
            std::string body = IndexCreateBody(*table, cfg_.document);
            r = setup_.Do("PUT", path, body, "application/json", &node);
            if (r.ok() && (r.status == 200 || r.status == 201)) {
                log::Info(kComponent, "Created index '" + index +
                                          "' with a mapping from the columns of '" + table->schema +
                                          "." + table->table + "'.");
            } else if (r.ok() && r.status == 400 &&
                       r.body.find("resource_already_exists_exception") != std::string::npos) {
                // Created meanwhile by someone else: used as it is.
            } else {
                Fail(index, r, node, "create");
            }
        } else if (r.ok() && r.status == 200) {
            log::Info(kComponent, "Index '" + index + "' exists; it is used as it is.");
        } else {
            Fail(index, r, node, "look up");
        }
        known_indices_.insert(index);
    }
    last_ensured_ = table.get();
}

void IndexManager::Fail(const std::string &index, const HttpResponse &r, size_t node,
                        const char *what) {
    std::string where = setup_.shown(node);
    if (!r.ok()) {
        throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index +
                                        "': " + where + " is unreachable (" + r.error + "). " +
                                        ConnectAdvice(r));
    }
    if (r.status == 401 || r.status == 403) {
        throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index + "' on " +
                                        where + ": " + AuthAdvice(cfg_, r.status));
    }
    throw SinkError(kComponent, "cannot " + std::string(what) + " index '" + index + "': " + where +
                                    " answered HTTP " + std::to_string(r.status) + " (" +
                                    ErrorSummary(r.body) + ").");
}

}  // namespace cdcctl::es
