// The Elasticsearch double: see es_double.h for what it serves.
//
// The _bulk body is NDJSON: an action/metadata line `{"<action>":{<params>}}` (action one of
// index, create, delete, update), followed for index and create by the document source line and
// for update by a `{"doc":..}` line; every line ends with "\n", the last one included. Like the
// reference, the double reads a bulk request in two steps: it first parses every line and
// validates the request as a whole (a malformed action line, an unknown parameter or a
// versioning rule the request validation enforces fails the whole request with a 400), then
// applies the items in order, each one succeeding or failing on its own (version conflicts,
// mapping errors, injected faults).
#include "tests/servers/es_double.h"

#include <fnmatch.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>

#include "core/json/json_writer.h"
#include "tests/servers/http_server.h"

namespace cdcctl::testing {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;
using Clock = std::chrono::steady_clock;

// The reference's Versions.MATCH_ANY and "not found" markers.
constexpr int64_t kMatchAny = -3;
constexpr int64_t kNotFound = -1;
constexpr int64_t kUnassignedSeqNo = -2;

// ---- JSON output -----------------------------------------------------------------------------

void Str(std::string *out, std::string_view s) {
    out->push_back('"');
    json::AppendEscaped(out, s);
    out->push_back('"');
}

std::string Quoted(std::string_view s) {
    std::string out;
    Str(&out, s);
    return out;
}

// An exception object: {"type":..,"reason":..<extra>}; extra is "" or starts with ','.
std::string ErrObj(const std::string &type, const std::string &reason,
                   const std::string &extra = "") {
    std::string out = "{\"type\":";
    Str(&out, type);
    out += ",\"reason\":";
    Str(&out, reason);
    out += extra;
    out += '}';
    return out;
}

// The body the reference returns for a failed request: the exception with its root cause.
std::string ErrorBody(int status, const std::string &type, const std::string &reason,
                      const std::string &extra = "", const std::string &caused_by = "") {
    std::string root = ErrObj(type, reason, extra);
    std::string top =
        ErrObj(type, reason, extra + (caused_by.empty() ? "" : ",\"caused_by\":" + caused_by));
    return "{\"error\":{\"root_cause\":[" + root + "]," + top.substr(1) +
           ",\"status\":" + std::to_string(status) + "}";
}

std::string IndexExtra(const std::string &index, const std::string &uuid) {
    return ",\"index_uuid\":" + Quoted(uuid) + ",\"index\":" + Quoted(index);
}

std::string NotFoundExtra(const std::string &index) {
    return ",\"resource.type\":\"index_or_alias\",\"resource.id\":" + Quoted(index) +
           ",\"index_uuid\":\"_na_\",\"index\":" + Quoted(index);
}

std::string RandomToken(size_t n) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(kAlphabet[rng() % 64]);
    return out;
}

std::string TrimJson(std::string_view s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return std::string(s);
}

// The Jackson token name the reference quotes in its parse errors.
const char *TokenName(element e) {
    switch (e.type()) {
        case element_type::ARRAY:
            return "START_ARRAY";
        case element_type::OBJECT:
            return "START_OBJECT";
        case element_type::INT64:
        case element_type::UINT64:
            return "VALUE_NUMBER_INT";
        case element_type::DOUBLE:
            return "VALUE_NUMBER_FLOAT";
        case element_type::STRING:
            return "VALUE_STRING";
        case element_type::BOOL:
            return e.get_bool().value() ? "VALUE_TRUE" : "VALUE_FALSE";
        case element_type::NULL_VALUE:
            return "VALUE_NULL";
    }
    return "?";
}

// A scalar as the text the reference would read from it (parser.text()).
std::string ScalarText(element e) {
    switch (e.type()) {
        case element_type::STRING:
            return std::string(e.get_string().value());
        case element_type::NULL_VALUE:
            return "null";
        default:
            return simdjson::to_string(e);
    }
}

bool ParseLong(const std::string &s, int64_t *out) {
    if (s.empty()) return false;
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

bool LooksNumeric(std::string_view s) {
    if (s.empty()) return false;
    std::string t(s);
    char *end = nullptr;
    errno = 0;
    std::strtod(t.c_str(), &end);
    return errno == 0 && *end == '\0' && !std::isspace(static_cast<unsigned char>(t[0]));
}

int MajorVersion(const std::string &version) {
    return std::atoi(version.c_str());
}

// ---- Index state -----------------------------------------------------------------------------

enum class Kind { kNumber, kString, kBoolean, kDate, kObject, kAny };

struct FieldMapping {
    Kind kind = Kind::kAny;
    std::string type;        // the mapping type: long, float, text, boolean, object, ...
    std::string definition;  // the explicit mapping JSON, "" when added dynamically
};

struct Doc {
    std::string source;
    int64_t version = 0;
    int64_t seq_no = 0;
    bool deleted = false;  // a tombstone: the version of a deleted document
};

struct Visible {
    std::string source;
    int64_t version = 0;
    int64_t seq_no = 0;
};

struct Index {
    std::string uuid = RandomToken(22);
    std::string created_mapping;  // as given to PUT /<index>, "" when created by a write
    std::string settings;         // as given, "" when none
    // Every document ever written, tombstones included. The reference forgets a tombstone
    // after index.gc_deletes (60s by default); the double keeps them for the whole test, which
    // only matters to a test that replays a stale write more than a minute after a delete.
    std::map<std::string, Doc> docs;
    // What _count and _search see: the state at the last refresh.
    std::map<std::string, Visible> visible;
    bool dirty = false;
    Clock::time_point dirty_since;
    std::map<std::string, FieldMapping> fields;  // by dotted path
    std::string dynamic = "true";                // "true", "false", "strict", "runtime"
    int64_t next_seq_no = 0;

    void Touch() {
        if (!dirty) dirty_since = Clock::now();
        dirty = true;
    }
    void Refresh() {
        visible.clear();
        for (const auto &[id, d] : docs) {
            if (!d.deleted) visible.emplace(id, Visible{d.source, d.version, d.seq_no});
        }
        dirty = false;
    }
    // The reference refreshes every index.refresh_interval (1s): a search sees a write at the
    // latest a second after it, and not before a refresh.
    void RefreshIfDue() {
        if (dirty && Clock::now() - dirty_since >= std::chrono::seconds(1)) Refresh();
    }
};

// The kinds of JSON value a mapping type accepts (with the reference's default coercion).
bool KindFromType(const std::string &type, Kind *kind) {
    // clang-format off
    static const std::set<std::string> kNumbers = {
        "long",       "integer",      "short", "byte",       "double",       "float",
        "half_float", "scaled_float", "unsigned_long"};
    static const std::set<std::string> kStrings = {
        "text", "keyword", "wildcard", "constant_keyword", "match_only_text", "search_as_you_type"};
    static const std::set<std::string> kOthers = {
        "ip", "geo_point", "geo_shape", "point", "shape", "binary", "flattened", "dense_vector",
        "sparse_vector", "rank_feature", "rank_features", "alias", "integer_range", "float_range",
        "long_range", "double_range", "date_range", "ip_range", "histogram", "version",
        "token_count", "percolator", "join", "completion", "aggregate_metric_double",
        "semantic_text", "annotated_text"};
    // clang-format on
    if (kNumbers.count(type))
        *kind = Kind::kNumber;
    else if (kStrings.count(type))
        *kind = Kind::kString;
    else if (type == "boolean")
        *kind = Kind::kBoolean;
    else if (type == "date" || type == "date_nanos")
        *kind = Kind::kDate;
    else if (type == "object" || type == "nested")
        *kind = Kind::kObject;
    else if (kOthers.count(type))
        *kind = Kind::kAny;
    else
        return false;
    return true;
}

struct MapError {
    int status = 400;
    std::string type, reason, caused_by;  // caused_by: a rendered exception object or ""
};

class MappingChecker {
public:
    MappingChecker(const Index &ix, const std::string &id) : ix_(ix), id_(id) {}

    bool CheckObject(object obj, const std::string &prefix, MapError *err) {
        for (auto field : obj) {
            std::string path =
                prefix.empty() ? std::string(field.key) : prefix + "." + std::string(field.key);
            if (!CheckValue(path, std::string(field.key), prefix, field.value, err)) return false;
        }
        return true;
    }

    std::vector<std::pair<std::string, FieldMapping>> added;

private:
    const FieldMapping *Find(const std::string &path) const {
        auto it = ix_.fields.find(path);
        if (it != ix_.fields.end()) return &it->second;
        for (const auto &[p, m] : added) {
            if (p == path) return &m;
        }
        return nullptr;
    }

    bool Fail(MapError *err, const std::string &path, const FieldMapping &m, element v,
              const std::string &cause_type, const std::string &cause_reason) {
        err->type = "mapper_parsing_exception";
        std::string preview = v.type() == element_type::OBJECT || v.type() == element_type::ARRAY
                                  ? simdjson::to_string(v)
                                  : ScalarText(v);
        err->reason = "failed to parse field [" + path + "] of type [" + m.type +
                      "] in document with id '" + id_ + "'. Preview of field's value: '" + preview +
                      "'";
        err->caused_by = ErrObj(cause_type, cause_reason);
        return false;
    }

    bool CheckValue(const std::string &path, const std::string &key, const std::string &parent,
                    element v, MapError *err) {
        if (v.type() == element_type::NULL_VALUE) return true;
        if (v.type() == element_type::ARRAY) {
            simdjson::dom::array arr = v.get_array().value();
            for (element e : arr) {
                if (!CheckValue(path, key, parent, e, err)) return false;
            }
            return true;
        }
        const FieldMapping *m = Find(path);
        if (m == nullptr) {
            if (ix_.dynamic == "strict") {
                err->type = "strict_dynamic_mapping_exception";
                err->reason = "[1:2] mapping set to strict, dynamic introduction of [" + key +
                              "] within [" + (parent.empty() ? "_doc" : parent) +
                              "] is not allowed";
                return false;
            }
            if (ix_.dynamic == "false") return true;  // kept in _source, not mapped
            FieldMapping fm;
            switch (v.type()) {
                case element_type::OBJECT:
                    fm = {Kind::kObject, "object", ""};
                    break;
                case element_type::INT64:
                case element_type::UINT64:
                    fm = {Kind::kNumber, "long", ""};
                    break;
                case element_type::DOUBLE:
                    fm = {Kind::kNumber, "float", ""};
                    break;
                case element_type::BOOL:
                    fm = {Kind::kBoolean, "boolean", ""};
                    break;
                // Date detection (a string that looks like a date becomes a date field) is
                // not modelled: every string maps to text.
                default:
                    fm = {Kind::kString, "text", ""};
                    break;
            }
            added.emplace_back(path, fm);
            if (v.type() == element_type::OBJECT) {
                return CheckObject(v.get_object().value(), path, err);
            }
            return true;
        }
        const element_type t = v.type();
        const bool is_object = t == element_type::OBJECT;
        const bool is_number =
            t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
        switch (m->kind) {
            case Kind::kObject:
                if (!is_object) {
                    err->type = "mapper_parsing_exception";
                    err->reason = "object mapping for [" + path + "] tried to parse field [" + key +
                                  "] as object, but found a concrete value";
                    return false;
                }
                return CheckObject(v.get_object().value(), path, err);
            case Kind::kAny:
                return true;
            case Kind::kNumber:
                if (is_number) return true;
                if (t == element_type::STRING) {
                    std::string_view s = v.get_string().value();
                    if (LooksNumeric(s)) return true;  // coerce: "5" into a long is fine
                    return Fail(err, path, *m, v, "illegal_argument_exception",
                                "For input string: \"" + std::string(s) + "\"");
                }
                if (is_object) {
                    return Fail(err, path, *m, v, "illegal_state_exception",
                                "Can't get text on a START_OBJECT at 1:2");
                }
                return Fail(err, path, *m, v, "illegal_argument_exception",
                            std::string("Current token (") + TokenName(v) +
                                ") not numeric, can not use numeric value accessors");
            case Kind::kString:
                if (!is_object) return true;  // numbers and booleans index as their text
                return Fail(err, path, *m, v, "illegal_state_exception",
                            "Can't get text on a START_OBJECT at 1:2");
            case Kind::kBoolean:
                if (t == element_type::BOOL) return true;
                if (t == element_type::STRING) {
                    std::string_view s = v.get_string().value();
                    if (s == "true" || s == "false" || s.empty()) return true;
                }
                return Fail(err, path, *m, v, "illegal_argument_exception",
                            "Failed to parse value [" +
                                (is_object ? simdjson::to_string(v) : ScalarText(v)) +
                                "] as only [true] or [false] are allowed.");
            case Kind::kDate:
                // Date formats are not checked: any string or epoch number is taken.
                if (t == element_type::STRING || is_number) return true;
                return Fail(err, path, *m, v, "illegal_argument_exception",
                            "failed to parse date field [" + ScalarText(v) + "]");
        }
        return true;
    }

    const Index &ix_;
    const std::string &id_;
};

// Flattens the "properties" of an explicit mapping into dotted paths.
bool LoadProperties(object props, const std::string &prefix,
                    std::map<std::string, FieldMapping> *fields, std::string *error) {
    for (auto field : props) {
        std::string path =
            prefix.empty() ? std::string(field.key) : prefix + "." + std::string(field.key);
        object def;
        if (field.value.get_object().get(def) != simdjson::SUCCESS) {
            *error = "Expected map for property [fields] on field [" + path + "] but got a " +
                     std::string(TokenName(field.value));
            return false;
        }
        std::string type;
        std::string_view type_view;
        element sub;
        bool has_props = def["properties"].get(sub) == simdjson::SUCCESS;
        if (def["type"].get_string().get(type_view) == simdjson::SUCCESS) {
            type = std::string(type_view);
        } else {
            type = "object";
        }
        FieldMapping fm;
        fm.type = type;
        fm.definition = simdjson::to_string(element(field.value));
        if (!KindFromType(type, &fm.kind)) {
            *error = "No handler for type [" + type + "] declared on field [" +
                     std::string(field.key) + "]";
            return false;
        }
        (*fields)[path] = fm;
        if (has_props) {
            object sub_obj;
            if (sub.get_object().get(sub_obj) != simdjson::SUCCESS) {
                *error = "Expected map for property [properties] on field [" + path + "]";
                return false;
            }
            if (!LoadProperties(sub_obj, path, fields, error)) return false;
        }
    }
    return true;
}

// The reference's index-name rules (MetadataCreateIndexService).
std::string InvalidIndexName(const std::string &name) {
    if (name.empty()) return "must not be empty";
    for (char c : name) {
        if (std::isupper(static_cast<unsigned char>(c))) return "must be lowercase";
    }
    if (name.find_first_of("\\/*?\"<>| ,#:") != std::string::npos) {
        return "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]";
    }
    if (name[0] == '_' || name[0] == '-' || name[0] == '+') {
        return "must not start with '_', '-', or '+'";
    }
    if (name == "." || name == "..") return "must not be '.' or '..'";
    if (name.size() > 255)
        return "index name is too long, (" + std::to_string(name.size()) + " > 255)";
    return "";
}

// ---- Bulk items ------------------------------------------------------------------------------

enum class Action { kIndex, kCreate, kDelete, kUpdate };
enum class VersionType { kInternal, kExternal, kExternalGte };

const char *ActionName(Action a) {
    switch (a) {
        case Action::kIndex:
            return "index";
        case Action::kCreate:
            return "create";
        case Action::kDelete:
            return "delete";
        case Action::kUpdate:
            return "update";
    }
    return "?";
}

const char *VersionTypeName(VersionType v) {
    switch (v) {
        case VersionType::kInternal:
            return "INTERNAL";
        case VersionType::kExternal:
            return "EXTERNAL";
        case VersionType::kExternalGte:
            return "EXTERNAL_GTE";
    }
    return "?";
}

struct BulkItem {
    Action action = Action::kIndex;
    int line = 0;
    std::string index, id;
    bool auto_id = false;
    int64_t version = kMatchAny;
    VersionType version_type = VersionType::kInternal;
    int64_t if_seq_no = kUnassignedSeqNo;
    int64_t if_primary_term = 0;
    std::string_view source;   // the next line, for index, create and update
    std::string source_error;  // set when the source line is not a JSON object
    // update
    bool doc_as_upsert = false;
    bool has_script = false;
    bool detect_noop = true;
};

struct ItemResult {
    int status = 0;
    std::string index, id;
    int64_t version = kNotFound;
    int64_t seq_no = -1;
    const char *result = nullptr;  // created, updated, deleted, not_found, noop
    std::string error;             // a rendered exception object when the item failed
};

}  // namespace

// ---- The double ------------------------------------------------------------------------------

struct EsDouble::Impl {
    Options options;
    int major = 8;
    bool opensearch = false;

    mutable std::mutex state_mu;
    std::map<std::string, Index> indices;

    mutable std::mutex faults_mu;
    std::vector<FaultRule> faults;
    std::atomic<bool> has_faults{false};

    mutable std::mutex log_mu;
    std::vector<RequestRecord> requests;

    std::atomic<uint64_t> bulk_items{0};
    std::atomic<uint64_t> bulk_conflicts{0};
    std::atomic<int64_t> nostore_seq_no{0};

    std::unique_ptr<HttpServer> server;

    void Handle(HttpRequest &req, HttpResponse *resp);
    void Route(HttpRequest &req, HttpResponse *resp);

    // Request-level faults of the given kinds that match this request; consumes one hit.
    std::optional<FaultRule> TakeRequestFault(const std::string &path,
                                              std::initializer_list<Fault> kinds);
    std::optional<FaultRule> TakeItemFault(const std::string &id);

    void Bulk(HttpRequest &req, const std::string &default_index, HttpResponse *resp);
    void ApplyItem(BulkItem &item, ItemResult *res);
    void SingleWrite(HttpRequest &req, Action action, const std::string &index,
                     const std::string &id, HttpResponse *resp);
    void CreateIndex(HttpRequest &req, const std::string &name, HttpResponse *resp);
    void GetDoc(HttpRequest &req, const std::string &index, const std::string &id,
                HttpResponse *resp);
    void Search(HttpRequest &req, const std::string &target, bool count, HttpResponse *resp);
    void Mapping(const std::string &index, HttpResponse *resp);
    void Control(HttpRequest &req, HttpResponse *resp);

    // Auto-creates an index for a write (state_mu held); "" or the invalid-name reason.
    Index *IndexForWrite(const std::string &name, std::string *error);
    std::vector<std::string> ResolveIndices(const std::string &expr, std::string *missing);
};

namespace {

void Json(HttpResponse *resp, int status, std::string body) {
    resp->status = status;
    resp->body = std::move(body);
}

void Error(HttpResponse *resp, int status, const std::string &type, const std::string &reason,
           const std::string &extra = "", const std::string &caused_by = "") {
    Json(resp, status, ErrorBody(status, type, reason, extra, caused_by));
}

std::vector<std::string> Split(const std::string &path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        if (i >= path.size()) break;
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        out.push_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}

// The media types the reference reads as JSON (x-ndjson is JSON line by line).
bool JsonMediaType(const std::string &content_type, int major) {
    std::string t = content_type.substr(0, content_type.find(';'));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    for (char &c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (t == "application/json" || t == "application/x-ndjson") return true;
    if (t == "application/vnd.elasticsearch+json" ||
        t == "application/vnd.elasticsearch+x-ndjson") {
        // compatible-with=N must name this major or the one before it.
        size_t p = content_type.find("compatible-with=");
        if (p == std::string::npos) return false;
        int v = std::atoi(content_type.c_str() + p + 16);
        return v == major || v == major - 1;
    }
    return false;
}

const std::set<std::string> kGlobalParams = {"pretty",      "human",  "error_trace",
                                             "filter_path", "source", "source_content_type"};

}  // namespace

EsDouble::EsDouble(Options options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->major = MajorVersion(impl_->options.version);
    impl_->opensearch = impl_->options.distribution == "opensearch";
    Impl *impl = impl_.get();
    impl_->server = std::make_unique<HttpServer>(
        impl_->options.port,
        [impl](HttpRequest &req, HttpResponse *resp) { impl->Handle(req, resp); });
}

EsDouble::~EsDouble() {
    impl_->server.reset();
}

int EsDouble::port() const {
    return impl_->server->port();
}
std::string EsDouble::url() const {
    return "http://127.0.0.1:" + std::to_string(port());
}

void EsDouble::Inject(FaultRule rule) {
    std::lock_guard<std::mutex> lock(impl_->faults_mu);
    impl_->faults.push_back(std::move(rule));
    impl_->has_faults = true;
}

void EsDouble::ClearFaults() {
    std::lock_guard<std::mutex> lock(impl_->faults_mu);
    impl_->faults.clear();
    impl_->has_faults = false;
}

std::optional<EsDouble::StoredDoc> EsDouble::Get(const std::string &index,
                                                 const std::string &id) const {
    std::lock_guard<std::mutex> lock(impl_->state_mu);
    auto ix = impl_->indices.find(index);
    if (ix == impl_->indices.end()) return std::nullopt;
    auto d = ix->second.docs.find(id);
    if (d == ix->second.docs.end() || d->second.deleted) return std::nullopt;
    return StoredDoc{d->second.source, d->second.version};
}

std::map<std::string, EsDouble::StoredDoc> EsDouble::Documents(const std::string &index) const {
    std::lock_guard<std::mutex> lock(impl_->state_mu);
    std::map<std::string, StoredDoc> out;
    auto ix = impl_->indices.find(index);
    if (ix == impl_->indices.end()) return out;
    for (const auto &[id, d] : ix->second.docs) {
        if (!d.deleted) out.emplace(id, StoredDoc{d.source, d.version});
    }
    return out;
}

bool EsDouble::IndexExists(const std::string &index) const {
    std::lock_guard<std::mutex> lock(impl_->state_mu);
    return impl_->indices.count(index) != 0;
}

std::string EsDouble::CreatedMapping(const std::string &index) const {
    std::lock_guard<std::mutex> lock(impl_->state_mu);
    auto ix = impl_->indices.find(index);
    return ix == impl_->indices.end() ? "" : ix->second.created_mapping;
}

std::vector<EsDouble::RequestRecord> EsDouble::Requests() const {
    std::lock_guard<std::mutex> lock(impl_->log_mu);
    return impl_->requests;
}

uint64_t EsDouble::bulk_items() const {
    return impl_->bulk_items.load();
}
uint64_t EsDouble::conflicts() const {
    return impl_->bulk_conflicts.load();
}
int EsDouble::max_in_flight() const {
    return impl_->server->max_in_flight();
}
int EsDouble::connections_opened() const {
    return impl_->server->connections_opened();
}

// ---- Request handling ------------------------------------------------------------------------

std::optional<EsDouble::FaultRule> EsDouble::Impl::TakeRequestFault(
    const std::string &path, std::initializer_list<Fault> kinds) {
    if (!has_faults) return std::nullopt;
    std::lock_guard<std::mutex> lock(faults_mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
        if (std::find(kinds.begin(), kinds.end(), it->fault) == kinds.end()) continue;
        const std::string &ep = it->endpoint;
        bool match = ep.empty() || (path.size() >= ep.size() &&
                                    path.compare(path.size() - ep.size(), ep.size(), ep) == 0);
        if (!match) continue;
        FaultRule rule = *it;
        if (it->count > 0 && --it->count == 0) faults.erase(it);
        return rule;
    }
    return std::nullopt;
}

std::optional<EsDouble::FaultRule> EsDouble::Impl::TakeItemFault(const std::string &id) {
    if (!has_faults) return std::nullopt;
    std::lock_guard<std::mutex> lock(faults_mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
        if (it->fault != Fault::kItem429 && it->fault != Fault::kMapperParsing) continue;
        if (!it->doc_id.empty() && it->doc_id != id) continue;
        FaultRule rule = *it;
        if (it->count > 0 && --it->count == 0) faults.erase(it);
        return rule;
    }
    return std::nullopt;
}

void EsDouble::Impl::Handle(HttpRequest &req, HttpResponse *resp) {
    // simdjson reads SIMDJSON_PADDING bytes past a line's end; the body's capacity holds them.
    req.body.reserve(req.body.size() + simdjson::SIMDJSON_PADDING);
    resp->headers.emplace_back("content-type", "application/json");
    // Elasticsearch names itself in this header from 7.14 on; OpenSearch never does.
    const int minor = std::atoi(options.version.c_str() +
                                std::min(options.version.find('.') + 1, options.version.size()));
    if (!opensearch && (major > 7 || (major == 7 && minor >= 14))) {
        resp->headers.emplace_back("x-elastic-product", "Elasticsearch");
    }
    bool control = req.path.rfind("/_double/", 0) == 0;
    if (control) {
        Control(req, resp);
    } else if (auto fault = TakeRequestFault(req.path, {Fault::kReject429})) {
        Error(resp, 429, "es_rejected_execution_exception",
              "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, "
              "replica_bytes=0, all_bytes=0, coordinating_operation_bytes=" +
                  std::to_string(req.body.size()) +
                  ", max_coordinating_and_primary_bytes=0] (fault injected by the double)");
    } else if (auto fault503 = TakeRequestFault(req.path, {Fault::kUnavailable503})) {
        Error(resp, 503, "cluster_block_exception",
              "blocked by: [SERVICE_UNAVAILABLE/2/no master]; (fault injected by the double)");
    } else {
        Route(req, resp);
        if (auto f = TakeRequestFault(req.path, {Fault::kResetMidResponse})) {
            resp->reset_mid_response = true;
        }
        if (auto f = TakeRequestFault(req.path, {Fault::kSlow})) resp->delay = f->delay;
    }
    if (!control) {
        RequestRecord rec;
        rec.method = req.method;
        rec.path = req.path;
        rec.target = req.target;
        rec.status = resp->status;
        if (options.store) {
            rec.headers = req.headers;
            rec.body = req.body;
        }
        std::lock_guard<std::mutex> lock(log_mu);
        requests.push_back(std::move(rec));
    }
}

void EsDouble::Impl::Route(HttpRequest &req, HttpResponse *resp) {
    // Authentication comes first, as in the reference's security layer.
    if (!options.user.empty() || !options.api_key.empty()) {
        const std::string &auth = req.Header("authorization");
        std::string reason;
        bool ok = false;
        if (auth.empty()) {
            reason = "missing authentication credentials for REST request [" + req.target + "]";
        } else if (auth.rfind("Basic ", 0) == 0 && !options.user.empty()) {
            std::string decoded;
            if (Base64Decode(auth.substr(6), &decoded) &&
                decoded == options.user + ":" + options.password) {
                ok = true;
            } else {
                std::string user = decoded.substr(0, decoded.find(':'));
                reason = "unable to authenticate user [" + user + "] for REST request [" +
                         req.target + "]";
            }
        } else if (auth.rfind("ApiKey ", 0) == 0 && !options.api_key.empty()) {
            ok = auth.substr(7) == options.api_key;
            if (!ok) {
                reason =
                    "unable to authenticate with provided credentials and anonymous access "
                    "is not allowed for this request";
            }
        } else {
            reason =
                "unable to authenticate with provided credentials and anonymous access is "
                "not allowed for this request";
        }
        if (!ok) {
            std::string header =
                ",\"header\":{\"WWW-Authenticate\":[\"Basic realm=\\\"security\\\", "
                "charset=\\\"UTF-8\\\"\",\"ApiKey\"]}";
            Error(resp, 401, "security_exception", reason, header);
            resp->headers.emplace_back("www-authenticate",
                                       "Basic realm=\"security\", charset=\"UTF-8\"");
            resp->headers.emplace_back("www-authenticate", "ApiKey");
            return;
        }
    }
    if (!req.body_error.empty()) {
        Error(resp, 400, "illegal_argument_exception", req.body_error);
        return;
    }
    if (!req.body.empty()) {
        const std::string &ct = req.Header("content-type");
        if (ct.empty()) {
            Json(resp, 406, "{\"error\":\"Content-Type header is missing\",\"status\":406}");
            return;
        }
        if (!JsonMediaType(ct, major)) {
            Json(resp, 406,
                 "{\"error\":" + Quoted("Content-Type header [" + ct + "] is not supported") +
                     ",\"status\":406}");
            return;
        }
    }

    const std::vector<std::string> seg = Split(req.path);
    const std::string &m = req.method;
    auto method_is = [&](std::initializer_list<const char *> allowed) {
        for (const char *a : allowed) {
            if (m == a) return true;
        }
        std::string list;
        for (const char *a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        Json(resp, 405,
             "{\"error\":" +
                 Quoted("Incorrect HTTP method for uri [" + req.target + "] and method [" + m +
                        "], allowed: [" + list + "]") +
                 ",\"status\":405}");
        resp->headers.emplace_back("allow", list);
        return false;
    };
    auto params_ok = [&](std::initializer_list<const char *> allowed) {
        for (const auto &[k, v] : req.params) {
            if (kGlobalParams.count(k)) continue;
            bool found = false;
            for (const char *a : allowed) found = found || k == a;
            if (!found) {
                Error(resp, 400, "illegal_argument_exception",
                      "request [" + req.path + "] contains unrecognized parameter: [" + k + "]");
                return false;
            }
        }
        return true;
    };
    // clang-format off
    static const std::initializer_list<const char *> kBulkParams = {
        "refresh", "routing", "pipeline", "timeout", "wait_for_active_shards", "require_alias",
        "require_data_stream", "_source", "_source_includes", "_source_excludes",
        "list_executed_pipelines", "include_source_on_error"};
    static const std::initializer_list<const char *> kSearchParams = {
        "size", "from", "q", "version", "seq_no_primary_term", "track_total_hits", "_source",
        "timeout", "ignore_unavailable", "allow_no_indices", "expand_wildcards",
        "rest_total_hits_as_int", "typed_keys", "preference", "routing", "request_cache",
        "search_type", "sort", "df", "default_operator", "lenient", "analyzer", "terminate_after",
        "min_score", "analyze_wildcard"};
    static const std::initializer_list<const char *> kWriteParams = {
        "version", "version_type", "refresh", "routing", "pipeline", "timeout", "op_type",
        "if_seq_no", "if_primary_term", "require_alias", "wait_for_active_shards"};
    static const std::initializer_list<const char *> kIndicesParams = {
        "ignore_unavailable", "allow_no_indices", "expand_wildcards", "master_timeout", "timeout",
        "include_defaults", "flat_settings", "local", "features", "wait_for_active_shards"};
    // clang-format on

    if (seg.empty()) {
        if (!method_is({"GET", "HEAD"}) || !params_ok({})) return;
        std::string body =
            "{\"name\":\"es-double\",\"cluster_name\":\"cdcctl-es-double\","
            "\"cluster_uuid\":\"" +
            std::string("k2k6TWjBR4a4Yd0DPzFEGQ") + "\",\"version\":{";
        if (opensearch) body += "\"distribution\":\"opensearch\",";
        body += "\"number\":" + Quoted(options.version) +
                ",\"build_flavor\":\"default\",\"build_type\":\"docker\","
                "\"build_hash\":\"0000000000000000000000000000000000000000\","
                "\"build_date\":\"2024-01-01T00:00:00.000000000Z\",\"build_snapshot\":false,"
                "\"lucene_version\":\"9.10.0\","
                "\"minimum_wire_compatibility_version\":\"7.17.0\","
                "\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":" +
                Quoted(opensearch ? "The OpenSearch Project: https://opensearch.org/"
                                  : "You Know, for Search") +
                "}";
        Json(resp, 200, body);
        return;
    }
    const std::string &first = seg[0];
    if (seg.size() == 1 && first == "_bulk") {
        if (method_is({"POST", "PUT"}) && params_ok(kBulkParams)) Bulk(req, "", resp);
        return;
    }
    if (seg.size() == 1 && (first == "_refresh" || first == "_count" || first == "_search")) {
        if (first == "_refresh") {
            if (method_is({"POST", "GET"}) && params_ok(kIndicesParams)) {
                Search(req, "_all", false, resp);
            }
        } else if (method_is({"GET", "POST"}) && params_ok(kSearchParams)) {
            Search(req, "_all", first == "_count", resp);
        }
        return;
    }
    if (seg.size() == 2 && first == "_cluster" && seg[1] == "health") {
        if (!method_is({"GET"})) return;
        size_t n;
        {
            std::lock_guard<std::mutex> lock(state_mu);
            n = indices.size();
        }
        Json(resp, 200,
             "{\"cluster_name\":\"cdcctl-es-double\",\"status\":\"green\",\"timed_out\":false,"
             "\"number_of_nodes\":1,\"number_of_data_nodes\":1,\"active_primary_shards\":" +
                 std::to_string(n) + ",\"active_shards\":" + std::to_string(n) +
                 ",\"relocating_shards\":0,\"initializing_shards\":0,\"unassigned_shards\":0,"
                 "\"delayed_unassigned_shards\":0,\"number_of_pending_tasks\":0,"
                 "\"number_of_in_flight_fetch\":0,\"task_max_waiting_in_queue_millis\":0,"
                 "\"active_shards_percent_as_number\":100.0}");
        return;
    }
    if (first[0] == '_') {
        Json(resp, 400,
             "{\"error\":" +
                 Quoted("no handler found for uri [" + req.target + "] and method [" + m + "]") +
                 ",\"status\":400}");
        return;
    }
    const std::string &index = first;
    if (seg.size() == 1) {
        if (!method_is({"PUT", "HEAD", "GET", "DELETE"}) || !params_ok(kIndicesParams)) return;
        if (m == "PUT") {
            CreateIndex(req, index, resp);
            return;
        }
        std::lock_guard<std::mutex> lock(state_mu);
        auto it = indices.find(index);
        if (it == indices.end()) {
            Error(resp, 404, "index_not_found_exception", "no such index [" + index + "]",
                  NotFoundExtra(index));
            return;
        }
        if (m == "DELETE") {
            indices.erase(it);
            Json(resp, 200, "{\"acknowledged\":true}");
        } else if (m == "HEAD") {
            Json(resp, 200, "");
        } else {
            const Index &ix = it->second;
            Json(resp, 200,
                 "{" + Quoted(index) + ":{\"aliases\":{},\"mappings\":" +
                     (ix.created_mapping.empty() ? "{}" : ix.created_mapping) +
                     ",\"settings\":{\"index\":{\"uuid\":" + Quoted(ix.uuid) +
                     ",\"provided_name\":" + Quoted(index) +
                     ",\"number_of_shards\":\"1\",\"number_of_replicas\":\"1\"}}}}");
        }
        return;
    }
    const std::string &op = seg[1];
    if (seg.size() == 2 && op == "_bulk") {
        if (method_is({"POST", "PUT"}) && params_ok(kBulkParams)) Bulk(req, index, resp);
        return;
    }
    if (seg.size() == 2 && op == "_mapping") {
        if (method_is({"GET"}) && params_ok(kIndicesParams)) Mapping(index, resp);
        return;
    }
    if (seg.size() == 2 && op == "_refresh") {
        if (method_is({"POST", "GET"}) && params_ok(kIndicesParams)) {
            Search(req, index, false, resp);
        }
        return;
    }
    if (seg.size() == 2 && (op == "_count" || op == "_search")) {
        if (method_is({"GET", "POST"}) && params_ok(kSearchParams)) {
            Search(req, index, op == "_count", resp);
        }
        return;
    }
    if (seg.size() == 2 && op == "_doc") {
        if (method_is({"POST"}) && params_ok(kWriteParams)) {
            SingleWrite(req, Action::kIndex, index, "", resp);
        }
        return;
    }
    if (seg.size() == 3 && (op == "_doc" || op == "_create")) {
        const std::string &id = seg[2];
        if (op == "_create") {
            if (method_is({"PUT", "POST"}) && params_ok(kWriteParams)) {
                SingleWrite(req, Action::kCreate, index, id, resp);
            }
            return;
        }
        if (!method_is({"GET", "HEAD", "PUT", "POST", "DELETE"})) return;
        if (m == "GET" || m == "HEAD") {
            if (params_ok({"realtime", "refresh", "routing", "preference", "stored_fields",
                           "_source", "_source_includes", "_source_excludes", "version",
                           "version_type"})) {
                GetDoc(req, index, id, resp);
            }
        } else if (params_ok(kWriteParams)) {
            Action action = m == "DELETE" ? Action::kDelete
                            : req.params.count("op_type") && req.params.at("op_type") == "create"
                                ? Action::kCreate
                                : Action::kIndex;
            SingleWrite(req, action, index, id, resp);
        }
        return;
    }
    Json(resp, 400,
         "{\"error\":" +
             Quoted("no handler found for uri [" + req.target + "] and method [" + m + "]") +
             ",\"status\":400}");
}

Index *EsDouble::Impl::IndexForWrite(const std::string &name, std::string *error) {
    auto it = indices.find(name);
    if (it != indices.end()) return &it->second;
    std::string invalid = InvalidIndexName(name);
    if (!invalid.empty()) {
        *error = invalid;
        return nullptr;
    }
    return &indices[name];
}

// ---- _bulk -----------------------------------------------------------------------------------

void EsDouble::Impl::Bulk(HttpRequest &req, const std::string &default_index, HttpResponse *resp) {
    const auto started = Clock::now();
    thread_local simdjson::dom::parser parser;
    const std::string &body = req.body;
    if (body.empty()) {
        Error(resp, 400, "parse_exception", "request body is required");
        return;
    }
    if (body.back() != '\n') {
        Error(resp, 400, "illegal_argument_exception",
              "The bulk request must be terminated by a newline [\\n]");
        return;
    }
    const bool types_removed = opensearch || major >= 8;
    std::vector<BulkItem> items;
    std::vector<std::string> validation;
    size_t pos = 0;
    int line_no = 0;
    auto next_line = [&](std::string_view *line) {
        if (pos >= body.size()) return false;
        size_t nl = body.find('\n', pos);
        *line = std::string_view(body).substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        return true;
    };
    auto bad_request = [&](const std::string &reason) {
        Error(resp, 400, "illegal_argument_exception", reason);
    };
    std::string_view line;
    while (next_line(&line)) {
        const int action_line = line_no;
        const std::string where =
            "Malformed action/metadata line [" + std::to_string(action_line) + "]";
        element doc;
        auto err = parser.parse(line.data(), line.size(), false).get(doc);
        if (err != simdjson::SUCCESS) {
            if (err == simdjson::EMPTY) {
                bad_request(where + ", expected START_OBJECT or END_OBJECT but found [null]");
                return;
            }
            Error(resp, 400, "x_content_parse_exception",
                  "[" + std::to_string(action_line) + ":1] " + where + ": " +
                      simdjson::error_message(err));
            return;
        }
        object action_obj;
        if (doc.get_object().get(action_obj) != simdjson::SUCCESS) {
            bad_request(where + ", expected START_OBJECT or END_OBJECT but found [" +
                        TokenName(doc) + "]");
            return;
        }
        if (action_obj.size() == 0) {
            bad_request(where + ", expected FIELD_NAME but found [END_OBJECT]");
            return;
        }
        BulkItem item;
        item.line = action_line;
        auto first = *action_obj.begin();
        std::string_view action = first.key;
        if (action == "index")
            item.action = Action::kIndex;
        else if (action == "create")
            item.action = Action::kCreate;
        else if (action == "delete")
            item.action = Action::kDelete;
        else if (action == "update")
            item.action = Action::kUpdate;
        else {
            bad_request(where + ", expected one of [create, delete, index, update] but found [" +
                        std::string(action) + "]");
            return;
        }
        if (action_obj.size() > 1) {
            bad_request(where + ", expected END_OBJECT but found [FIELD_NAME]");
            return;
        }
        object params;
        if (first.value.get_object().get(params) != simdjson::SUCCESS) {
            bad_request(where + ", expected START_OBJECT but found [" + TokenName(first.value) +
                        "]");
            return;
        }
        item.index = default_index;
        for (auto p : params) {
            std::string_view key = p.key;
            element v = p.value;
            if (v.type() == element_type::OBJECT || v.type() == element_type::ARRAY) {
                if (key == "dynamic_templates" && v.type() == element_type::OBJECT) continue;
                bad_request(where + ", expected a simple value for field [" + std::string(key) +
                            "] but found [" + TokenName(v) + "]");
                return;
            }
            const std::string text = ScalarText(v);
            if (key == "_index") {
                item.index = text;
            } else if (key == "_id") {
                item.id = text;
            } else if (key == "version" || key == "if_seq_no" || key == "if_primary_term") {
                int64_t n;
                if (!ParseLong(text, &n)) {
                    Error(resp, 400, "x_content_parse_exception",
                          "[" + std::to_string(action_line) + ":1] " + where +
                              ", failed to parse field [" + std::string(key) + "] value [" + text +
                              "] as a long");
                    return;
                }
                if (key == "version")
                    item.version = n;
                else if (key == "if_seq_no")
                    item.if_seq_no = n;
                else
                    item.if_primary_term = n;
            } else if (key == "version_type") {
                if (text == "internal")
                    item.version_type = VersionType::kInternal;
                else if (text == "external")
                    item.version_type = VersionType::kExternal;
                else if (text == "external_gte")
                    item.version_type = VersionType::kExternalGte;
                else {
                    bad_request("No version type match [" + text + "]");
                    return;
                }
            } else if (key == "routing" || key == "pipeline" || key == "require_alias" ||
                       key == "require_data_stream" || key == "list_executed_pipelines" ||
                       (key == "_type" && !types_removed) ||
                       (item.action == Action::kUpdate &&
                        (key == "retry_on_conflict" || key == "_source"))) {
                // Accepted and irrelevant to a single-node double.
            } else {
                bad_request("Action/metadata line [" + std::to_string(action_line) +
                            "] contains an unknown parameter [" + std::string(key) + "]");
                return;
            }
        }
        if (item.action != Action::kDelete) {
            std::string_view source;
            if (!next_line(&source)) {
                // The reference silently drops an action whose source line is missing at the
                // end of the body; the double refuses it, since that is always a client bug.
                bad_request(
                    "The bulk request must be terminated by a newline [\\n]; action/"
                    "metadata line [" +
                    std::to_string(action_line) + "] has no source line");
                return;
            }
            item.source = source;
            element src;
            auto serr = parser.parse(source.data(), source.size(), false).get(src);
            if (serr != simdjson::SUCCESS) {
                item.source_error = simdjson::error_message(serr);
                if (item.action == Action::kUpdate) {
                    Error(resp, 400, "x_content_parse_exception",
                          "[" + std::to_string(line_no) + ":1] " + item.source_error);
                    return;
                }
            } else if (src.type() != element_type::OBJECT) {
                item.source_error =
                    std::string("expected START_OBJECT but found [") + TokenName(src) + "]";
                if (item.action == Action::kUpdate) {
                    Error(resp, 400, "x_content_parse_exception",
                          "[" + std::to_string(line_no) + ":1] " + item.source_error);
                    return;
                }
            } else if (item.action == Action::kUpdate) {
                bool has_doc = false;
                object update_obj = src.get_object().value();
                for (auto f : update_obj) {
                    std::string_view k = f.key;
                    if (k == "doc") {
                        has_doc = f.value.type() == element_type::OBJECT;
                    } else if (k == "doc_as_upsert") {
                        item.doc_as_upsert =
                            f.value.type() == element_type::BOOL && f.value.get_bool().value();
                    } else if (k == "detect_noop") {
                        item.detect_noop =
                            !(f.value.type() == element_type::BOOL && !f.value.get_bool().value());
                    } else if (k == "script") {
                        item.has_script = true;
                    } else if (k != "upsert" && k != "scripted_upsert" && k != "_source" &&
                               k != "lang") {
                        Error(resp, 400, "x_content_parse_exception",
                              "[" + std::to_string(line_no) +
                                  ":2] [UpdateRequest] unknown field [" + std::string(k) + "]");
                        return;
                    }
                }
                if (!has_doc && !item.has_script) validation.push_back("script or doc is missing");
                if (has_doc && item.has_script)
                    validation.push_back("can't provide both script and doc");
            }
        }
        // The request validation (IndexRequest, DeleteRequest, UpdateRequest.validate).
        if (item.index.empty()) validation.push_back("index is missing");
        if (item.id.empty()) {
            if (item.action == Action::kDelete || item.action == Action::kUpdate) {
                validation.push_back("id is missing");
            } else {
                item.auto_id = true;
            }
        } else if (item.id.size() > 512) {
            validation.push_back("id [" + item.id +
                                 "] is too long, must be no longer than 512 bytes but was: " +
                                 std::to_string(item.id.size()));
        }
        if (item.action == Action::kCreate && item.version_type != VersionType::kInternal) {
            validation.push_back(
                "create operations only support internal versioning. use index "
                "instead");
        } else if (item.action == Action::kCreate && item.version != kMatchAny) {
            validation.push_back(
                "create operations do not support explicit versions. use index "
                "instead");
        } else if (item.action == Action::kUpdate && item.version_type != VersionType::kInternal) {
            validation.push_back(std::string("version type [") +
                                 VersionTypeName(item.version_type) +
                                 "] is not supported by the update API");
        } else if (item.version_type != VersionType::kInternal && item.version < 0) {
            validation.push_back("illegal version value [" + std::to_string(item.version) +
                                 "] for version type [" + VersionTypeName(item.version_type) + "]");
        } else if (item.version_type == VersionType::kInternal && item.version != kMatchAny) {
            validation.push_back(
                "internal versioning can not be used for optimistic concurrency "
                "control. Please use `if_seq_no` and `if_primary_term` instead");
        }
        if (item.if_seq_no != kUnassignedSeqNo &&
            (item.version_type != VersionType::kInternal || item.version != kMatchAny)) {
            validation.push_back("compare and write operations can not use versioning");
        }
        if (item.if_seq_no != kUnassignedSeqNo && item.if_primary_term == 0) {
            validation.push_back("ifSeqNo is set, but primary term is [0]");
        }
        items.push_back(std::move(item));
    }
    if (items.empty()) validation.push_back("no requests added");
    if (!validation.empty()) {
        std::string reason = "Validation Failed: ";
        for (size_t i = 0; i < validation.size(); ++i) {
            reason += std::to_string(i + 1) + ": " + validation[i] + ";";
        }
        Error(resp, 400, "action_request_validation_exception", reason);
        return;
    }

    // Apply the items in order.
    std::vector<ItemResult> results(items.size());
    bool errors = false;
    uint64_t accepted = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        BulkItem &item = items[i];
        ItemResult &res = results[i];
        if (item.auto_id) item.id = RandomToken(20);
        res.index = item.index;
        res.id = item.id;
        if (auto fault = TakeItemFault(item.id)) {
            if (fault->fault == Fault::kItem429) {
                res.status = 429;
                res.error =
                    ErrObj("es_rejected_execution_exception",
                           "rejected execution of primary operation [shard_detail=[" + item.index +
                               "][0][es-double]] on EsThreadPoolExecutor[name = "
                               "es-double/write, queue capacity = 10000] (fault "
                               "injected by the double)");
            } else {
                res.status = 400;
                res.error = ErrObj("mapper_parsing_exception",
                                   "failed to parse (fault injected by the double)");
            }
        } else if (!options.store) {
            // Parsed and validated above; nothing is kept.
            if (!item.source_error.empty()) {
                res.status = 400;
                res.error = ErrObj(
                    "mapper_parsing_exception", "failed to parse",
                    ",\"caused_by\":" + ErrObj("x_content_parse_exception", item.source_error));
            } else {
                res.status = item.action == Action::kDelete ? 200 : 201;
                res.result = item.action == Action::kDelete ? "deleted" : "created";
                res.version = item.version_type == VersionType::kInternal ? 1 : item.version;
                res.seq_no = nostore_seq_no++;
            }
        } else {
            std::lock_guard<std::mutex> lock(state_mu);
            ApplyItem(item, &res);
        }
        if (!res.error.empty()) {
            errors = true;
            if (res.status == 409) {
                ++accepted;
                ++bulk_conflicts;
            }
        } else {
            ++accepted;
        }
    }
    bulk_items += accepted;
    auto rp = req.params.find("refresh");
    if (options.store && rp != req.params.end() && rp->second != "false") {
        std::lock_guard<std::mutex> lock(state_mu);
        std::set<std::string> touched;
        for (const auto &it : items) touched.insert(it.index);
        for (const auto &name : touched) {
            auto ix = indices.find(name);
            if (ix != indices.end()) ix->second.Refresh();
        }
    }

    std::string out;
    out.reserve(items.size() * 160 + 64);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    out += "{\"errors\":";
    out += errors ? "true" : "false";
    out += ",\"took\":" + std::to_string(took) + ",\"items\":[";
    for (size_t i = 0; i < items.size(); ++i) {
        const ItemResult &r = results[i];
        if (i > 0) out += ',';
        out += "{\"";
        out += ActionName(items[i].action);
        out += "\":{\"_index\":";
        Str(&out, r.index);
        out += ",\"_id\":";
        Str(&out, r.id);
        if (r.error.empty()) {
            out += ",\"_version\":" + std::to_string(r.version) + ",\"result\":\"" + r.result +
                   "\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":" +
                   std::to_string(r.seq_no) + ",\"_primary_term\":1";
        }
        out += ",\"status\":" + std::to_string(r.status);
        if (!r.error.empty()) out += ",\"error\":" + r.error;
        out += "}}";
    }
    out += "]}";
    Json(resp, 200, std::move(out));
}

namespace {

// Merges patch into base the way a partial update does: objects merge key by key, anything
// else is replaced.
void MergeInto(object base, object patch, std::string *out) {
    out->push_back('{');
    bool first = true;
    for (auto f : base) {
        if (!first) out->push_back(',');
        first = false;
        Str(out, f.key);
        out->push_back(':');
        element pv;
        if (patch[f.key].get(pv) == simdjson::SUCCESS) {
            if (pv.type() == element_type::OBJECT && f.value.type() == element_type::OBJECT) {
                MergeInto(f.value.get_object().value(), pv.get_object().value(), out);
            } else {
                *out += simdjson::to_string(pv);
            }
        } else {
            *out += simdjson::to_string(f.value);
        }
    }
    for (auto f : patch) {
        element bv;
        if (base[f.key].get(bv) == simdjson::SUCCESS) continue;
        if (!first) out->push_back(',');
        first = false;
        Str(out, f.key);
        out->push_back(':');
        *out += simdjson::to_string(f.value);
    }
    out->push_back('}');
}

}  // namespace

// state_mu is held.
void EsDouble::Impl::ApplyItem(BulkItem &item, ItemResult *res) {
    thread_local simdjson::dom::parser parser;
    thread_local simdjson::dom::parser base_parser;
    auto conflict = [&](const std::string &uuid, const std::string &reason) {
        res->status = 409;
        res->error = ErrObj(
            "version_conflict_engine_exception", "[" + item.id + "]: " + reason,
            ",\"index_uuid\":" + Quoted(uuid) + ",\"shard\":\"0\",\"index\":" + Quoted(item.index));
    };
    // Deletes with internal versioning do not create a missing index (TransportBulkAction).
    if (item.action == Action::kDelete && item.version_type == VersionType::kInternal &&
        indices.count(item.index) == 0) {
        res->status = 404;
        res->error = ErrObj("index_not_found_exception", "no such index [" + item.index + "]",
                            NotFoundExtra(item.index));
        return;
    }
    std::string invalid;
    Index *ix = IndexForWrite(item.index, &invalid);
    if (ix == nullptr) {
        res->status = 400;
        res->error = ErrObj("invalid_index_name_exception",
                            "Invalid index name [" + item.index + "], " + invalid,
                            ",\"index_uuid\":\"_na_\",\"index\":" + Quoted(item.index));
        return;
    }
    auto found = ix->docs.find(item.id);
    Doc *cur = found == ix->docs.end() ? nullptr : &found->second;
    const bool exists = cur != nullptr && !cur->deleted;
    const int64_t cur_version = cur == nullptr ? kNotFound : cur->version;

    // The document to store, for index, create and update.
    std::string new_source;
    element src;
    if (item.action != Action::kDelete) {
        if (!item.source_error.empty()) {
            res->status = 400;
            res->error =
                ErrObj("mapper_parsing_exception", "failed to parse",
                       ",\"caused_by\":" + ErrObj("x_content_parse_exception", item.source_error));
            return;
        }
        if (item.action == Action::kUpdate) {
            if (item.has_script) {
                res->status = 400;
                res->error = ErrObj("illegal_argument_exception",
                                    "the Elasticsearch double does not run update scripts");
                return;
            }
            element upd = parser.parse(item.source.data(), item.source.size(), false).value();
            element doc = upd["doc"].value();
            element upsert;
            bool has_upsert = upd["upsert"].get(upsert) == simdjson::SUCCESS;
            if (!exists) {
                if (!item.doc_as_upsert && !has_upsert) {
                    res->status = 404;
                    res->error =
                        ErrObj("document_missing_exception", "[" + item.id + "]: document missing",
                               ",\"index_uuid\":" + Quoted(ix->uuid) +
                                   ",\"shard\":\"0\",\"index\":" + Quoted(item.index));
                    return;
                }
                new_source = simdjson::to_string(item.doc_as_upsert ? doc : upsert);
            } else {
                element base = base_parser.parse(cur->source).value();
                MergeInto(base.get_object().value(), doc.get_object().value(), &new_source);
                if (item.detect_noop && simdjson::to_string(base) == new_source) {
                    res->status = 200;
                    res->result = "noop";
                    res->version = cur->version;
                    res->seq_no = cur->seq_no;
                    return;
                }
            }
        } else {
            new_source = TrimJson(item.source);
        }
        src = parser.parse(new_source).value();
        MappingChecker checker(*ix, item.id);
        MapError merr;
        if (!checker.CheckObject(src.get_object().value(), "", &merr)) {
            res->status = merr.status;
            res->error = ErrObj(merr.type, merr.reason,
                                merr.caused_by.empty() ? "" : ",\"caused_by\":" + merr.caused_by);
            return;
        }
        // The fields the document adds to the mapping are kept only once the write goes
        // through the version checks below.
        if (item.if_seq_no != kUnassignedSeqNo) {
            if (!exists) {
                conflict(ix->uuid, "version conflict, required seqNo [" +
                                       std::to_string(item.if_seq_no) + "], primary term [" +
                                       std::to_string(item.if_primary_term) +
                                       "] but no document was found");
                return;
            }
            if (cur->seq_no != item.if_seq_no || item.if_primary_term != 1) {
                conflict(ix->uuid, "version conflict, required seqNo [" +
                                       std::to_string(item.if_seq_no) + "], primary term [" +
                                       std::to_string(item.if_primary_term) +
                                       "]. current document has seqNo [" +
                                       std::to_string(cur->seq_no) + "] and primary term [1]");
                return;
            }
        }
        int64_t new_version;
        switch (item.version_type) {
            case VersionType::kInternal:
                if (item.action == Action::kCreate && exists) {
                    conflict(ix->uuid,
                             "version conflict, document already exists (current "
                             "version [" +
                                 std::to_string(cur_version) + "])");
                    return;
                }
                new_version = cur == nullptr ? 1 : cur_version + 1;
                break;
            case VersionType::kExternal:
                if (cur != nullptr && cur_version >= item.version) {
                    conflict(ix->uuid, "version conflict, current version [" +
                                           std::to_string(cur_version) +
                                           "] is higher or equal to the one provided [" +
                                           std::to_string(item.version) + "]");
                    return;
                }
                new_version = item.version;
                break;
            case VersionType::kExternalGte:
            default:
                if (cur != nullptr && cur_version > item.version) {
                    conflict(ix->uuid, "version conflict, current version [" +
                                           std::to_string(cur_version) +
                                           "] is higher than the one provided [" +
                                           std::to_string(item.version) + "]");
                    return;
                }
                new_version = item.version;
                break;
        }
        for (auto &[path, fm] : checker.added) ix->fields.emplace(path, fm);
        Doc &d = ix->docs[item.id];
        d.source = std::move(new_source);
        d.version = new_version;
        d.seq_no = ix->next_seq_no++;
        d.deleted = false;
        ix->Touch();
        res->status = exists ? 200 : 201;
        res->result = exists ? "updated" : "created";
        res->version = new_version;
        res->seq_no = d.seq_no;
        return;
    }

    // delete
    if (item.if_seq_no != kUnassignedSeqNo &&
        (!exists || cur->seq_no != item.if_seq_no || item.if_primary_term != 1)) {
        conflict(ix->uuid, "version conflict, required seqNo [" + std::to_string(item.if_seq_no) +
                               "], primary term [" + std::to_string(item.if_primary_term) + "]" +
                               (exists ? ". current document has seqNo [" +
                                             std::to_string(cur->seq_no) + "] and primary term [1]"
                                       : " but no document was found"));
        return;
    }
    int64_t new_version;
    if (item.version_type == VersionType::kInternal) {
        new_version = cur == nullptr ? 1 : cur_version + 1;
    } else {
        bool gte = item.version_type == VersionType::kExternalGte;
        if (cur != nullptr && (gte ? cur_version > item.version : cur_version >= item.version)) {
            conflict(ix->uuid, "version conflict, current version [" + std::to_string(cur_version) +
                                   "] is higher" + (gte ? "" : " or equal to") +
                                   " than the one provided [" + std::to_string(item.version) + "]");
            return;
        }
        new_version = item.version;
    }
    // A delete of a missing document still records its version as a tombstone, so that a
    // stale write replayed afterwards is refused.
    Doc &d = ix->docs[item.id];
    d.source.clear();
    d.version = new_version;
    d.seq_no = ix->next_seq_no++;
    d.deleted = true;
    ix->Touch();
    res->status = exists ? 200 : 404;
    res->result = exists ? "deleted" : "not_found";
    res->version = new_version;
    res->seq_no = d.seq_no;
}

// PUT /<index>/_doc/<id>, POST /<index>/_doc, PUT /<index>/_create/<id>, DELETE .../_doc/<id>:
// one bulk item with the parameters from the query string.
void EsDouble::Impl::SingleWrite(HttpRequest &req, Action action, const std::string &index,
                                 const std::string &id, HttpResponse *resp) {
    BulkItem item;
    item.action = action;
    item.index = index;
    item.id = id;
    item.auto_id = id.empty();
    if (item.auto_id) item.id = RandomToken(20);
    std::vector<std::string> validation;
    auto p = req.params.find("version");
    if (p != req.params.end() && !ParseLong(p->second, &item.version)) {
        Error(resp, 400, "illegal_argument_exception",
              "Failed to parse long parameter [version] with value [" + p->second + "]");
        return;
    }
    p = req.params.find("version_type");
    if (p != req.params.end()) {
        if (p->second == "internal")
            item.version_type = VersionType::kInternal;
        else if (p->second == "external")
            item.version_type = VersionType::kExternal;
        else if (p->second == "external_gte")
            item.version_type = VersionType::kExternalGte;
        else {
            Error(resp, 400, "illegal_argument_exception",
                  "No version type match [" + p->second + "]");
            return;
        }
    }
    p = req.params.find("if_seq_no");
    if (p != req.params.end()) ParseLong(p->second, &item.if_seq_no);
    p = req.params.find("if_primary_term");
    if (p != req.params.end()) ParseLong(p->second, &item.if_primary_term);
    if (action != Action::kDelete) {
        thread_local simdjson::dom::parser parser;
        element src;
        if (req.body.empty()) {
            Error(resp, 400, "action_request_validation_exception",
                  "Validation Failed: 1: source is missing;2: content type is missing;");
            return;
        }
        auto err = parser.parse(req.body.data(), req.body.size(), false).get(src);
        if (err != simdjson::SUCCESS) {
            item.source_error = simdjson::error_message(err);
        } else if (src.type() != element_type::OBJECT) {
            item.source_error = "expected START_OBJECT";
        }
        item.source = req.body;
    }
    if (action == Action::kCreate && item.version_type != VersionType::kInternal) {
        validation.push_back(
            "create operations only support internal versioning. use index "
            "instead");
    } else if (item.version_type != VersionType::kInternal && item.version < 0) {
        validation.push_back("illegal version value [" + std::to_string(item.version) +
                             "] for version type [" + VersionTypeName(item.version_type) + "]");
    } else if (item.version_type == VersionType::kInternal && item.version != kMatchAny) {
        validation.push_back(
            "internal versioning can not be used for optimistic concurrency "
            "control. Please use `if_seq_no` and `if_primary_term` instead");
    }
    if (!validation.empty()) {
        Error(resp, 400, "action_request_validation_exception",
              "Validation Failed: 1: " + validation[0] + ";");
        return;
    }
    ItemResult res;
    {
        std::lock_guard<std::mutex> lock(state_mu);
        if (options.store) {
            ApplyItem(item, &res);
        } else {
            res.status = action == Action::kDelete ? 200 : 201;
            res.result = action == Action::kDelete ? "deleted" : "created";
            res.version = item.version_type == VersionType::kInternal ? 1 : item.version;
        }
        auto rp = req.params.find("refresh");
        if (rp != req.params.end() && rp->second != "false" && indices.count(index)) {
            indices[index].Refresh();
        }
    }
    if (!res.error.empty()) {
        // The error object carries type and reason; the top-level body repeats it.
        std::string body = "{\"error\":{\"root_cause\":[" + res.error + "]," + res.error.substr(1) +
                           ",\"status\":" + std::to_string(res.status) + "}";
        Json(resp, res.status, body);
        return;
    }
    Json(resp, res.status,
         "{\"_index\":" + Quoted(index) + ",\"_id\":" + Quoted(item.id) +
             ",\"_version\":" + std::to_string(res.version) + ",\"result\":\"" + res.result +
             "\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":" +
             std::to_string(res.seq_no) + ",\"_primary_term\":1}");
}

// ---- Indices ---------------------------------------------------------------------------------

void EsDouble::Impl::CreateIndex(HttpRequest &req, const std::string &name, HttpResponse *resp) {
    std::string invalid = InvalidIndexName(name);
    if (!invalid.empty()) {
        Error(resp, 400, "invalid_index_name_exception",
              "Invalid index name [" + name + "], " + invalid,
              ",\"index_uuid\":\"_na_\",\"index\":" + Quoted(name));
        return;
    }
    Index fresh;
    if (!req.body.empty()) {
        thread_local simdjson::dom::parser parser;
        element doc;
        auto err = parser.parse(req.body.data(), req.body.size(), false).get(doc);
        if (err != simdjson::SUCCESS) {
            Error(resp, 400, "x_content_parse_exception",
                  std::string("[1:1] ") + simdjson::error_message(err));
            return;
        }
        object top;
        if (doc.get_object().get(top) != simdjson::SUCCESS) {
            Error(resp, 400, "parse_exception", "request body is required");
            return;
        }
        for (auto f : top) {
            std::string_view k = f.key;
            if (k == "settings") {
                fresh.settings = simdjson::to_string(f.value);
            } else if (k == "aliases") {
            } else if (k == "mappings") {
                object mappings;
                if (f.value.get_object().get(mappings) != simdjson::SUCCESS) {
                    Error(resp, 400, "mapper_parsing_exception",
                          "Failed to parse mapping: mappings must be an object");
                    return;
                }
                fresh.created_mapping = simdjson::to_string(f.value);
                // clang-format off
                static const std::set<std::string_view> kRootParams = {
        "properties", "dynamic", "_source", "dynamic_templates", "date_detection",
        "numeric_detection", "_routing", "_meta", "runtime", "enabled", "dynamic_date_formats",
        "_field_names", "subobjects"};
                // clang-format on
                for (auto mf : mappings) {
                    if (!kRootParams.count(mf.key)) {
                        // A mapping type name (7.x style {"_doc":{...}}) lands here too.
                        Error(resp, 400, "mapper_parsing_exception",
                              "Failed to parse mapping: Root mapping definition has unsupported "
                              "parameters:  [" +
                                  std::string(mf.key) + " : " + simdjson::to_string(mf.value) +
                                  "]");
                        return;
                    }
                    if (mf.key == "dynamic") fresh.dynamic = ScalarText(mf.value);
                    if (mf.key == "properties") {
                        object props;
                        std::string perr;
                        if (mf.value.get_object().get(props) != simdjson::SUCCESS ||
                            !LoadProperties(props, "", &fresh.fields, &perr)) {
                            Error(resp, 400, "mapper_parsing_exception",
                                  "Failed to parse mapping: " +
                                      (perr.empty() ? "properties must be an object" : perr));
                            return;
                        }
                    }
                }
            } else {
                Error(resp, 400, "parse_exception",
                      "unknown key [" + std::string(k) + "] for create index");
                return;
            }
        }
    }
    std::lock_guard<std::mutex> lock(state_mu);
    auto it = indices.find(name);
    if (it != indices.end()) {
        Error(resp, 400, "resource_already_exists_exception",
              "index [" + name + "/" + it->second.uuid + "] already exists",
              IndexExtra(name, it->second.uuid));
        return;
    }
    indices.emplace(name, std::move(fresh));
    Json(resp, 200,
         "{\"acknowledged\":true,\"shards_acknowledged\":true,\"index\":" + Quoted(name) + "}");
}

void EsDouble::Impl::Mapping(const std::string &index, HttpResponse *resp) {
    std::lock_guard<std::mutex> lock(state_mu);
    auto it = indices.find(index);
    if (it == indices.end()) {
        Error(resp, 404, "index_not_found_exception", "no such index [" + index + "]",
              NotFoundExtra(index));
        return;
    }
    const Index &ix = it->second;
    // Rebuilds the nested "properties" tree from the dotted paths.
    std::function<std::string(const std::string &)> props = [&](const std::string &prefix) {
        std::string out = "{";
        bool first = true;
        for (const auto &[path, fm] : ix.fields) {
            if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) {
                continue;
            }
            std::string rest = path.substr(prefix.size());
            if (rest.find('.') != std::string::npos) continue;
            if (!first) out += ',';
            first = false;
            Str(&out, rest);
            out += ':';
            if (!fm.definition.empty()) {
                out += fm.definition;
            } else if (fm.kind == Kind::kObject) {
                out += "{\"properties\":" + props(path + ".") + "}";
            } else if (fm.type == "text") {
                out +=
                    "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\","
                    "\"ignore_above\":256}}}";
            } else {
                out += "{\"type\":" + Quoted(fm.type) + "}";
            }
        }
        return out + "}";
    };
    std::string mappings = "{";
    if (ix.dynamic != "true") mappings += "\"dynamic\":" + Quoted(ix.dynamic) + ",";
    mappings += "\"properties\":" + props("") + "}";
    Json(resp, 200, "{" + Quoted(index) + ":{\"mappings\":" + mappings + "}}");
}

std::vector<std::string> EsDouble::Impl::ResolveIndices(const std::string &expr,
                                                        std::string *missing) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= expr.size()) {
        size_t comma = expr.find(',', start);
        if (comma == std::string::npos) comma = expr.size();
        std::string part = expr.substr(start, comma - start);
        start = comma + 1;
        if (part.empty()) continue;
        if (part == "_all" || part.find('*') != std::string::npos) {
            for (const auto &[name, ix] : indices) {
                if (part == "_all" || fnmatch(part.c_str(), name.c_str(), 0) == 0) {
                    out.push_back(name);
                }
            }
        } else if (indices.count(part)) {
            out.push_back(part);
        } else if (missing->empty()) {
            *missing = part;
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void EsDouble::Impl::GetDoc(HttpRequest &req, const std::string &index, const std::string &id,
                            HttpResponse *resp) {
    std::lock_guard<std::mutex> lock(state_mu);
    auto it = indices.find(index);
    if (it == indices.end()) {
        Error(resp, 404, "index_not_found_exception", "no such index [" + index + "]",
              NotFoundExtra(index));
        return;
    }
    // GET is real time: it sees writes that no refresh has made searchable yet.
    auto d = it->second.docs.find(id);
    if (d == it->second.docs.end() || d->second.deleted) {
        Json(resp, 404,
             "{\"_index\":" + Quoted(index) + ",\"_id\":" + Quoted(id) + ",\"found\":false}");
        return;
    }
    std::string body = "{\"_index\":" + Quoted(index) + ",\"_id\":" + Quoted(id) +
                       ",\"_version\":" + std::to_string(d->second.version) +
                       ",\"_seq_no\":" + std::to_string(d->second.seq_no) +
                       ",\"_primary_term\":1,\"found\":true";
    auto src = req.params.find("_source");
    if (src == req.params.end() || src->second != "false") {
        body += ",\"_source\":" + d->second.source;
    }
    Json(resp, 200, body + "}");
}

void EsDouble::Impl::Search(HttpRequest &req, const std::string &target, bool count,
                            HttpResponse *resp) {
    const bool refresh_only =
        req.path.size() >= 9 && req.path.compare(req.path.size() - 9, 9, "/_refresh") == 0;
    int64_t size = 10, from = 0;
    bool want_version = false, want_seq_no = false, want_source = true;
    std::set<std::string> ids;
    bool ids_query = false;
    auto bad = [&](const std::string &type, const std::string &reason) {
        Error(resp, 400, type, reason);
    };
    auto p = req.params.find("size");
    if (p != req.params.end() && !ParseLong(p->second, &size)) {
        bad("illegal_argument_exception",
            "Failed to parse int parameter [size] with value [" + p->second + "]");
        return;
    }
    p = req.params.find("from");
    if (p != req.params.end()) ParseLong(p->second, &from);
    p = req.params.find("version");
    if (p != req.params.end()) want_version = p->second != "false";
    p = req.params.find("seq_no_primary_term");
    if (p != req.params.end()) want_seq_no = p->second != "false";
    if (req.params.count("q")) {
        bad("illegal_argument_exception",
            "the Elasticsearch double does not support query strings (q=)");
        return;
    }
    if (!refresh_only && !req.body.empty()) {
        thread_local simdjson::dom::parser parser;
        element doc;
        auto err = parser.parse(req.body.data(), req.body.size(), false).get(doc);
        object top;
        if (err != simdjson::SUCCESS || doc.get_object().get(top) != simdjson::SUCCESS) {
            bad("parsing_exception",
                std::string("[1:1] ") + (err ? simdjson::error_message(err)
                                             : "Expected [START_OBJECT] but found a value"));
            return;
        }
        for (auto f : top) {
            std::string_view k = f.key;
            if (k == "query") {
                object q;
                if (f.value.get_object().get(q) != simdjson::SUCCESS || q.size() != 1) {
                    bad("parsing_exception", "[query] malformed query, expected a single query");
                    return;
                }
                auto qf = *q.begin();
                if (qf.key == "match_all") continue;
                if (qf.key == "ids") {
                    ids_query = true;
                    simdjson::dom::array values;
                    if (qf.value["values"].get_array().get(values) == simdjson::SUCCESS) {
                        for (element v : values) ids.insert(ScalarText(v));
                    }
                    continue;
                }
                bad("parsing_exception",
                    "the Elasticsearch double supports only match_all and "
                    "ids queries, not [" +
                        std::string(qf.key) + "]");
                return;
            } else if (!count && k == "size") {
                size = f.value.is_int64() ? f.value.get_int64().value() : size;
            } else if (!count && k == "from") {
                from = f.value.is_int64() ? f.value.get_int64().value() : from;
            } else if (!count && k == "version") {
                want_version = f.value.is_bool() && f.value.get_bool().value();
            } else if (!count && k == "seq_no_primary_term") {
                want_seq_no = f.value.is_bool() && f.value.get_bool().value();
            } else if (!count && k == "_source") {
                want_source = !(f.value.is_bool() && !f.value.get_bool().value());
            } else if (!count && (k == "track_total_hits" || k == "sort")) {
                // Hits come back ordered by _id whatever the sort.
            } else {
                bad("parsing_exception", "Unknown key for a " + std::string(TokenName(f.value)) +
                                             " in [" + std::string(k) + "].");
                return;
            }
        }
    }
    if (from < 0 || size < 0 || from + size > 10000) {
        bad("illegal_argument_exception",
            "Result window is too large, from + size must be less than or equal to: [10000] but "
            "was [" +
                std::to_string(from + size) + "].");
        return;
    }
    std::lock_guard<std::mutex> lock(state_mu);
    std::string missing;
    std::vector<std::string> names = ResolveIndices(target, &missing);
    if (!missing.empty()) {
        Error(resp, 404, "index_not_found_exception", "no such index [" + missing + "]",
              NotFoundExtra(missing));
        return;
    }
    const std::string shards = "{\"total\":" + std::to_string(names.size()) +
                               ",\"successful\":" + std::to_string(names.size()) +
                               ",\"skipped\":0,\"failed\":0}";
    if (refresh_only) {
        for (const auto &n : names) indices[n].Refresh();
        Json(resp, 200,
             "{\"_shards\":{\"total\":" + std::to_string(names.size() * 2) +
                 ",\"successful\":" + std::to_string(names.size()) + ",\"failed\":0}}");
        return;
    }
    uint64_t total = 0;
    std::string hits;
    int64_t skipped = 0, taken = 0;
    for (const auto &n : names) {
        Index &ix = indices[n];
        ix.RefreshIfDue();
        for (const auto &[id, v] : ix.visible) {
            if (ids_query && !ids.count(id)) continue;
            ++total;
            if (count || skipped++ < from || taken >= size) continue;
            ++taken;
            if (!hits.empty()) hits += ',';
            hits += "{\"_index\":" + Quoted(n) + ",\"_id\":" + Quoted(id);
            if (want_version) hits += ",\"_version\":" + std::to_string(v.version);
            if (want_seq_no) {
                hits += ",\"_seq_no\":" + std::to_string(v.seq_no) + ",\"_primary_term\":1";
            }
            hits += ",\"_score\":1.0";
            if (want_source) hits += ",\"_source\":" + v.source;
            hits += '}';
        }
    }
    if (count) {
        Json(resp, 200, "{\"count\":" + std::to_string(total) + ",\"_shards\":" + shards + "}");
        return;
    }
    Json(resp, 200,
         "{\"took\":1,\"timed_out\":false,\"_shards\":" + shards +
             ",\"hits\":{\"total\":{\"value\":" + std::to_string(total) +
             ",\"relation\":\"eq\"},\"max_score\":" + (total ? "1.0" : "null") + ",\"hits\":[" +
             hits + "]}}");
}

// ---- Control endpoint (standalone program) ----------------------------------------------------

void EsDouble::Impl::Control(HttpRequest &req, HttpResponse *resp) {
    if (req.path == "/_double/stats" && req.method == "GET") {
        Json(resp, 200,
             "{\"bulk_items\":" + std::to_string(bulk_items.load()) +
                 ",\"max_in_flight\":" + std::to_string(server->max_in_flight()) +
                 ",\"connections_opened\":" + std::to_string(server->connections_opened()) + "}");
        return;
    }
    if (req.path == "/_double/fault" && req.method == "DELETE") {
        std::lock_guard<std::mutex> lock(faults_mu);
        faults.clear();
        has_faults = false;
        Json(resp, 200, "{\"acknowledged\":true}");
        return;
    }
    if (req.path == "/_double/fault" && req.method == "POST") {
        thread_local simdjson::dom::parser parser;
        element doc;
        std::string_view name;
        if (parser.parse(req.body.data(), req.body.size(), false).get(doc) != simdjson::SUCCESS ||
            doc["fault"].get_string().get(name) != simdjson::SUCCESS) {
            Error(resp, 400, "illegal_argument_exception",
                  "expected {\"fault\":\"reject_429|unavailable_503|item_429|mapper_parsing|"
                  "reset|slow\",\"count\":N,\"doc_id\":\"..\",\"delay_ms\":N,\"endpoint\":\"..\"}");
            return;
        }
        FaultRule rule{};
        if (name == "reject_429")
            rule.fault = Fault::kReject429;
        else if (name == "unavailable_503")
            rule.fault = Fault::kUnavailable503;
        else if (name == "item_429")
            rule.fault = Fault::kItem429;
        else if (name == "mapper_parsing")
            rule.fault = Fault::kMapperParsing;
        else if (name == "reset")
            rule.fault = Fault::kResetMidResponse;
        else if (name == "slow")
            rule.fault = Fault::kSlow;
        else {
            Error(resp, 400, "illegal_argument_exception",
                  "unknown fault [" + std::string(name) + "]");
            return;
        }
        int64_t n;
        if (doc["count"].get_int64().get(n) == simdjson::SUCCESS) rule.count = static_cast<int>(n);
        if (doc["delay_ms"].get_int64().get(n) == simdjson::SUCCESS) {
            rule.delay = std::chrono::milliseconds(n);
        }
        std::string_view s;
        if (doc["doc_id"].get_string().get(s) == simdjson::SUCCESS) rule.doc_id = s;
        if (doc["endpoint"].get_string().get(s) == simdjson::SUCCESS) rule.endpoint = s;
        std::lock_guard<std::mutex> lock(faults_mu);
        faults.push_back(rule);
        has_faults = true;
        Json(resp, 200, "{\"acknowledged\":true}");
        return;
    }
    Json(resp, 400, "{\"error\":\"no handler found for uri [" + req.path + "]\",\"status\":400}");
}

}  // namespace cdcctl::testing
