// The Elasticsearch double's specification: what it accepts, what it refuses and how it answers,
// driven over real HTTP with libcurl. The sink's tests trust the double because of these.
#include "tests/servers/es_double.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/servers/process.h"

using namespace cdcctl::testing;
using namespace std::chrono_literals;

namespace {

struct CurlFree {
    void operator()(CURL *c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
    void operator()(curl_slist *l) const { curl_slist_free_all(l); }
};
using Curl = std::unique_ptr<CURL, CurlFree>;
using Slist = std::unique_ptr<curl_slist, SlistFree>;

struct Reply {
    long status = 0;
    std::string body;
    std::string headers;  // the raw header block, lowercased
    CURLcode code = CURLE_OK;

    bool HasHeader(const std::string &lower_line) const {
        return headers.find(lower_line) != std::string::npos;
    }
};

size_t Append(char *p, size_t size, size_t n, void *out) {
    static_cast<std::string *>(out)->append(p, size * n);
    return size * n;
}

size_t AppendLower(char *p, size_t size, size_t n, void *out) {
    auto *s = static_cast<std::string *>(out);
    for (size_t i = 0; i < size * n; ++i) {
        s->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(p[i]))));
    }
    return size * n;
}

// One libcurl handle: consecutive requests reuse its connection, as a client pool would.
class Client {
public:
    explicit Client(std::string base) : base_(std::move(base)), curl_(curl_easy_init()) {}

    Reply Do(const std::string &method, const std::string &path, const std::string &body = "",
             std::vector<std::string> headers = {}) {
        CURL *c = curl_.get();
        curl_easy_reset(c);
        Reply r;
        std::string url = base_ + path;
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, AppendLower);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
        if (method == "HEAD") {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
        }
        if (!body.empty() || method == "POST" || method == "PUT") {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
        }
        headers.push_back("Expect:");
        curl_slist *list = nullptr;
        for (const auto &h : headers) list = curl_slist_append(list, h.c_str());
        Slist owned(list);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
        if (!user_.empty()) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERPWD, user_.c_str());
        }
        r.code = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        return r;
    }
    Reply Get(const std::string &path) { return Do("GET", path); }
    Reply Json(const std::string &method, const std::string &path, const std::string &body) {
        return Do(method, path, body, {"Content-Type: application/json"});
    }
    Reply Bulk(const std::string &body, const std::string &path = "/_bulk") {
        return Do("POST", path, body, {"Content-Type: application/x-ndjson"});
    }
    void SetUser(const std::string &user_password) { user_ = user_password; }

private:
    std::string base_;
    Curl curl_;
    std::string user_;
};

// A parsed JSON reply, kept alive with its parser.
class Doc {
public:
    explicit Doc(const std::string &text) : padded_(text) {
        auto err = parser_.parse(padded_).get(root_);
        INFO("not JSON: " << text);
        REQUIRE(err == simdjson::SUCCESS);
    }
    simdjson::dom::element operator[](const char *path) const {
        simdjson::dom::element e;
        auto err = root_.at_pointer(path).get(e);
        INFO("no " << path << " in " << simdjson::to_string(root_));
        REQUIRE(err == simdjson::SUCCESS);
        return e;
    }
    bool Has(const char *path) const {
        simdjson::dom::element e;
        return root_.at_pointer(path).get(e) == simdjson::SUCCESS;
    }
    std::string Str(const char *path) const {
        return std::string((*this)[path].get_string().value());
    }
    int64_t Int(const char *path) const { return (*this)[path].get_int64().value(); }
    bool Bool(const char *path) const { return (*this)[path].get_bool().value(); }

private:
    simdjson::padded_string padded_;
    simdjson::dom::parser parser_;
    simdjson::dom::element root_;
};

std::string Gzip(const std::string &in) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) ==
            Z_OK);
    std::string out(deflateBound(&zs, in.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef *>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// Sends raw bytes on a fresh connection and returns everything the server writes until it
// closes: for framings libcurl does not produce on demand.
std::string RawExchange(int port, const std::string &bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

// The bulk action line for an externally versioned write.
std::string Action(const std::string &action, const std::string &index, const std::string &id,
                   int64_t version, const std::string &type = "external_gte") {
    return "{\"" + action + "\":{\"_index\":\"" + index + "\",\"_id\":\"" + id +
           "\",\"version\":" + std::to_string(version) + ",\"version_type\":\"" + type + "\"}}\n";
}

std::string ErrorType(const Reply &r) {
    return Doc(r.body).Str("/error/type");
}
std::string ErrorReason(const Reply &r) {
    return Doc(r.body).Str("/error/reason");
}

// Faults and options set member by member: GCC's -Wextra flags designated initializers that
// leave members to their defaults.
EsDouble::FaultRule Rule(EsDouble::Fault fault, int count, const std::string &doc_id = "",
                         std::chrono::milliseconds delay = 0ms) {
    EsDouble::FaultRule rule{};
    rule.fault = fault;
    rule.count = count;
    rule.doc_id = doc_id;
    rule.delay = delay;
    return rule;
}

EsDouble::Options Opts(const std::function<void(EsDouble::Options &)> &set) {
    EsDouble::Options options;
    set(options);
    return options;
}

}  // namespace

TEST_CASE("GET / reports the configured version, distribution and product header") {
    {
        EsDouble es;
        Client c(es.url());
        Reply r = c.Get("/");
        CHECK(r.status == 200);
        Doc d(r.body);
        CHECK(d.Str("/version/number") == "8.13.4");
        CHECK_FALSE(d.Has("/version/distribution"));
        CHECK(d.Str("/tagline") == "You Know, for Search");
        CHECK(r.HasHeader("x-elastic-product: elasticsearch"));
        CHECK(r.HasHeader("content-type: application/json"));
    }
    {
        EsDouble es(Opts([](auto &o) {
            o.version = "2.11.1";
            o.distribution = "opensearch";
        }));
        Client c(es.url());
        Reply r = c.Get("/");
        Doc d(r.body);
        CHECK(d.Str("/version/number") == "2.11.1");
        CHECK(d.Str("/version/distribution") == "opensearch");
        CHECK_FALSE(r.HasHeader("x-elastic-product"));
    }
}

TEST_CASE("an index is created once and HEAD tells whether it exists") {
    EsDouble es;
    Client c(es.url());
    CHECK(c.Do("HEAD", "/shop").status == 404);
    const std::string mapping =
        R"({"properties":{"id":{"type":"long"},"name":{"type":"keyword"}}})";
    Reply r =
        c.Json("PUT", "/shop", R"({"settings":{"number_of_shards":1},"mappings":)" + mapping + "}");
    CHECK(r.status == 200);
    CHECK(Doc(r.body).Bool("/acknowledged"));
    CHECK(Doc(r.body).Str("/index") == "shop");
    CHECK(c.Do("HEAD", "/shop").status == 200);
    CHECK(es.IndexExists("shop"));
    CHECK(Doc(es.CreatedMapping("shop")).Str("/properties/name/type") == "keyword");

    r = c.Json("PUT", "/shop", "");
    CHECK(r.status == 400);
    CHECK(ErrorType(r) == "resource_already_exists_exception");
    CHECK(Doc(r.body).Int("/status") == 400);
    CHECK(Doc(r.body).Str("/error/root_cause/0/type") == "resource_already_exists_exception");

    r = c.Json("PUT", "/Shop", "");
    CHECK(r.status == 400);
    CHECK(ErrorType(r) == "invalid_index_name_exception");
    CHECK(ErrorReason(r) == "Invalid index name [Shop], must be lowercase");

    // 7.x-style mapping types are gone from the 8.x API.
    r = c.Json("PUT", "/typed", R"({"mappings":{"_doc":{"properties":{}}}})");
    CHECK(r.status == 400);
    CHECK(ErrorType(r) == "mapper_parsing_exception");
    r = c.Json("PUT", "/bad", R"({"mappings":{"properties":{"x":{"type":"strng"}}}})");
    CHECK(r.status == 400);
    CHECK(ErrorReason(r).find("No handler for type [strng]") != std::string::npos);
    CHECK_FALSE(es.IndexExists("typed"));

    r = c.Get("/shop/_mapping");
    CHECK(r.status == 200);
    CHECK(Doc(r.body).Str("/shop/mappings/properties/id/type") == "long");
}

TEST_CASE(
    "bulk writes with external_gte create, update, refuse stale replays and keep tombstones") {
    EsDouble es;
    Client c(es.url());
    Reply r = c.Bulk(Action("index", "shop", "1", 10) +
                     R"({"name":"a"})"
                     "\n" +
                     Action("index", "shop", "2", 10) +
                     R"({"name":"b"})"
                     "\n" +
                     Action("index", "shop", "1", 12) +
                     R"({"name":"a2"})"
                     "\n" +
                     Action("index", "shop", "1", 12) +
                     R"({"name":"a2"})"
                     "\n");
    REQUIRE(r.status == 200);
    Doc d(r.body);
    CHECK_FALSE(d.Bool("/errors"));
    CHECK(d.Int("/items/0/index/status") == 201);
    CHECK(d.Str("/items/0/index/result") == "created");
    CHECK(d.Int("/items/0/index/_version") == 10);
    CHECK(d.Str("/items/0/index/_index") == "shop");
    CHECK(d.Str("/items/0/index/_id") == "1");
    CHECK(d.Int("/items/0/index/_primary_term") == 1);
    CHECK(d.Int("/items/0/index/_seq_no") == 0);
    CHECK(d.Int("/items/1/index/_seq_no") == 1);
    CHECK(d.Int("/items/2/index/status") == 200);
    CHECK(d.Str("/items/2/index/result") == "updated");
    CHECK(d.Int("/items/2/index/_version") == 12);
    // external_gte takes an equal version (an idempotent replay).
    CHECK(d.Int("/items/3/index/status") == 200);
    CHECK(es.Get("shop", "1")->source == R"({"name":"a2"})");
    CHECK(es.Get("shop", "1")->version == 12);

    // A replay of an older version is refused, and the document keeps its newer state.
    r = c.Bulk(Action("index", "shop", "1", 11) + R"({"name":"stale"})"
                                                  "\n");
    Doc stale(r.body);
    CHECK(stale.Bool("/errors"));
    CHECK(stale.Int("/items/0/index/status") == 409);
    CHECK(stale.Str("/items/0/index/error/type") == "version_conflict_engine_exception");
    CHECK(stale.Str("/items/0/index/error/reason") ==
          "[1]: version conflict, current version [12] is higher than the one provided [11]");
    CHECK(stale.Str("/items/0/index/error/index") == "shop");
    CHECK(stale.Str("/items/0/index/error/shard") == "0");
    CHECK_FALSE(stale.Has("/items/0/index/_version"));
    CHECK(es.Get("shop", "1")->source == R"({"name":"a2"})");

    // A delete leaves a tombstone with its version: an older write replayed after it is refused.
    r = c.Bulk(Action("delete", "shop", "2", 20));
    Doc del(r.body);
    CHECK_FALSE(del.Bool("/errors"));
    CHECK(del.Int("/items/0/delete/status") == 200);
    CHECK(del.Str("/items/0/delete/result") == "deleted");
    CHECK(del.Int("/items/0/delete/_version") == 20);
    CHECK_FALSE(es.Get("shop", "2").has_value());
    r = c.Bulk(Action("index", "shop", "2", 15) + R"({"name":"b-old"})"
                                                  "\n");
    CHECK(Doc(r.body).Int("/items/0/index/status") == 409);
    CHECK_FALSE(es.Get("shop", "2").has_value());
    r = c.Bulk(Action("index", "shop", "2", 21) + R"({"name":"b-new"})"
                                                  "\n");
    CHECK(Doc(r.body).Int("/items/0/index/status") == 201);
    CHECK(Doc(r.body).Str("/items/0/index/result") == "created");

    // Deleting a document never seen: 404 not_found, which is not an error, and a tombstone.
    r = c.Bulk(Action("delete", "shop", "9", 7));
    Doc missing(r.body);
    CHECK_FALSE(missing.Bool("/errors"));
    CHECK(missing.Int("/items/0/delete/status") == 404);
    CHECK(missing.Str("/items/0/delete/result") == "not_found");
    CHECK(missing.Int("/items/0/delete/_version") == 7);
    r = c.Bulk(Action("index", "shop", "9", 6) + "{}\n");
    CHECK(Doc(r.body).Int("/items/0/index/status") == 409);

    // Plain external refuses an equal version.
    r = c.Bulk(Action("index", "shop", "1", 12, "external") + R"({"name":"same"})"
                                                              "\n");
    CHECK(Doc(r.body).Str("/items/0/index/error/reason") ==
          "[1]: version conflict, current version [12] is higher or equal to the one provided "
          "[12]");

    // The default index comes from the URL; create refuses an existing id.
    r = c.Bulk("{\"create\":{\"_id\":\"1\"}}\n{}\n{\"index\":{}}\n{\"auto\":true}\n",
               "/shop/_bulk");
    Doc dflt(r.body);
    CHECK(dflt.Int("/items/0/create/status") == 409);
    CHECK(dflt.Str("/items/0/create/error/reason") ==
          "[1]: version conflict, document already exists (current version [12])");
    CHECK(dflt.Int("/items/1/index/status") == 201);
    CHECK(dflt.Str("/items/1/index/_id").size() == 20);

    // A delete never creates an index, unless it is externally versioned (TransportBulkAction).
    r = c.Bulk("{\"delete\":{\"_index\":\"ghost\",\"_id\":\"1\"}}\n");
    CHECK(Doc(r.body).Bool("/errors"));
    CHECK(Doc(r.body).Int("/items/0/delete/status") == 404);
    CHECK(Doc(r.body).Str("/items/0/delete/error/type") == "index_not_found_exception");
    CHECK_FALSE(es.IndexExists("ghost"));
    r = c.Bulk(Action("delete", "ghost", "1", 3));
    CHECK_FALSE(Doc(r.body).Bool("/errors"));
    CHECK(es.IndexExists("ghost"));

    CHECK(es.Documents("shop").size() == 3);
    CHECK(es.bulk_items() == 14);  // 409s count as accepted, a bulk client resolves them
}

TEST_CASE("the bulk update action merges a partial document") {
    EsDouble es;
    Client c(es.url());
    Reply r = c.Bulk(
        "{\"update\":{\"_index\":\"u\",\"_id\":\"1\"}}\n{\"doc\":{\"a\":1},\"doc_as_upsert\":true}"
        "\n"
        "{\"update\":{\"_index\":\"u\",\"_id\":\"1\"}}\n{\"doc\":{\"b\":{\"c\":2}}}\n"
        "{\"update\":{\"_index\":\"u\",\"_id\":\"1\"}}\n{\"doc\":{\"a\":1}}\n"
        "{\"update\":{\"_index\":\"u\",\"_id\":\"2\"}}\n{\"doc\":{\"a\":1}}\n");
    Doc d(r.body);
    CHECK(d.Str("/items/0/update/result") == "created");
    CHECK(d.Str("/items/1/update/result") == "updated");
    CHECK(d.Str("/items/2/update/result") == "noop");
    CHECK(d.Int("/items/3/update/status") == 404);
    CHECK(d.Str("/items/3/update/error/type") == "document_missing_exception");
    CHECK(es.Get("u", "1")->source == R"({"a":1,"b":{"c":2}})");
    CHECK(es.Get("u", "1")->version == 2);
}

TEST_CASE("a malformed bulk body fails the whole request and changes nothing") {
    EsDouble es;
    Client c(es.url());
    const std::string good = Action("index", "m", "1", 1) + "{}\n";
    auto expect_400 = [&](const std::string &body, const std::string &type,
                          const std::string &reason_part) {
        Reply r = c.Bulk(body);
        INFO("body: " << body << "\nreply: " << r.body);
        CHECK(r.status == 400);
        CHECK(ErrorType(r) == type);
        CHECK(ErrorReason(r).find(reason_part) != std::string::npos);
        CHECK(Doc(r.body).Int("/status") == 400);
    };
    expect_400(good.substr(0, good.size() - 1), "illegal_argument_exception",
               "The bulk request must be terminated by a newline [\\n]");
    expect_400("{\"index\":{\"_index\":\"m\",\"_id\":\"1\"}\n{}\n", "x_content_parse_exception",
               "Malformed action/metadata line [1]");
    expect_400(good + "{\"upsert\":{\"_index\":\"m\",\"_id\":\"2\"}}\n{}\n",
               "illegal_argument_exception",
               "Malformed action/metadata line [3], expected one of [create, delete, index, "
               "update] but found [upsert]");
    expect_400("[1]\n", "illegal_argument_exception",
               "expected START_OBJECT or END_OBJECT but found [START_ARRAY]");
    expect_400(good + "{\"index\":{\"_index\":\"m\",\"_id\":\"3\"}}\n",
               "illegal_argument_exception", "action/metadata line [3] has no source line");
    expect_400("{\"index\":{\"_index\":\"m\",\"_id\":\"1\",\"colour\":\"red\"}}\n{}\n",
               "illegal_argument_exception",
               "Action/metadata line [1] contains an unknown parameter [colour]");
    expect_400("{\"index\":{\"_index\":\"m\",\"_type\":\"_doc\",\"_id\":\"1\"}}\n{}\n",
               "illegal_argument_exception",
               "Action/metadata line [1] contains an unknown parameter [_type]");
    expect_400("{\"index\":{\"_index\":\"m\",\"_id\":\"1\",\"version\":3}}\n{}\n",
               "action_request_validation_exception",
               "Validation Failed: 1: internal versioning can not be used for optimistic "
               "concurrency control. Please use `if_seq_no` and `if_primary_term` instead;");
    expect_400(
        "{\"create\":{\"_index\":\"m\",\"_id\":\"1\",\"version\":3,\"version_type\":"
        "\"external\"}}\n{}\n",
        "action_request_validation_exception",
        "create operations only support internal versioning. use index instead");
    expect_400("{\"index\":{\"_index\":\"m\",\"_id\":\"1\",\"version_type\":\"external\"}}\n{}\n",
               "action_request_validation_exception",
               "illegal version value [-3] for version type [EXTERNAL]");
    expect_400(
        "{\"index\":{\"_index\":\"m\",\"_id\":\"1\",\"version\":1,\"version_type\":"
        "\"force\"}}\n{}\n",
        "illegal_argument_exception", "No version type match [force]");
    expect_400("{\"index\":{\"_id\":\"1\"}}\n{}\n{\"delete\":{\"_index\":\"m\"}}\n",
               "action_request_validation_exception",
               "Validation Failed: 1: index is missing;2: id is missing;");
    expect_400("\n", "illegal_argument_exception", "expected START_OBJECT or END_OBJECT");

    Reply r = c.Do("POST", "/_bulk", "", {"Content-Type: application/x-ndjson"});
    CHECK(r.status == 400);
    CHECK(ErrorReason(r) == "request body is required");
    r = c.Do("POST", "/_bulk", good, {"Content-Type: text/plain"});
    CHECK(r.status == 406);
    CHECK(Doc(r.body).Str("/error") == "Content-Type header [text/plain] is not supported");
    r = c.Do("POST", "/_bulk", good, {"Content-Type:"});
    CHECK(r.status == 406);
    // application/json is accepted for _bulk, as the reference does.
    r = c.Do("POST", "/_bulk", good, {"Content-Type: application/json"});
    CHECK(r.status == 200);
    r = c.Do("POST", "/_bulk?refresh=true&colour=red", good,
             {"Content-Type: application/x-ndjson"});
    CHECK(r.status == 400);
    CHECK(ErrorReason(r) == "request [/_bulk] contains unrecognized parameter: [colour]");
    r = c.Get("/_bulk");
    CHECK(r.status == 405);

    // Only the one accepted request changed anything.
    CHECK(es.Documents("m").size() == 1);
    CHECK(es.bulk_items() == 1);

    // 7.x still accepts _type.
    EsDouble seven(Opts([](auto &o) { o.version = "7.17.9"; }));
    Client c7(seven.url());
    r = c7.Bulk("{\"index\":{\"_index\":\"m\",\"_type\":\"_doc\",\"_id\":\"1\"}}\n{}\n");
    CHECK(r.status == 200);
    CHECK_FALSE(Doc(r.body).Bool("/errors"));
}

TEST_CASE("a bad source line or a field changing type fails only its item") {
    EsDouble es;
    Client c(es.url());
    Reply r = c.Bulk(Action("index", "t", "1", 1) +
                     R"({"n":1,"s":"x","o":{"a":1},"b":true})"
                     "\n" +
                     Action("index", "t", "2", 1) +
                     R"({"n":"abc"})"
                     "\n" +
                     Action("index", "t", "3", 1) +
                     R"({"n":"42","s":7,"b":"false"})"
                     "\n" +
                     Action("index", "t", "4", 1) +
                     R"({"o":"flat"})"
                     "\n" +
                     Action("index", "t", "5", 1) +
                     R"({"b":1})"
                     "\n" +
                     Action("index", "t", "6", 1) +
                     R"({"n":null,"o":null,"s":{"x":1}})"
                     "\n" +
                     Action("index", "t", "7", 1) +
                     R"({"n":)"
                     "\n" +
                     Action("index", "t", "8", 1) +
                     R"({"n":[1,2],"new":1.5})"
                     "\n");
    REQUIRE(r.status == 200);
    Doc d(r.body);
    CHECK(d.Bool("/errors"));
    CHECK(d.Int("/items/0/index/status") == 201);
    CHECK(d.Int("/items/1/index/status") == 400);
    CHECK(d.Str("/items/1/index/error/type") == "mapper_parsing_exception");
    CHECK(d.Str("/items/1/index/error/reason") ==
          "failed to parse field [n] of type [long] in document with id '2'. Preview of field's "
          "value: 'abc'");
    // The reference coerces numeric strings into numbers and scalars into text.
    CHECK(d.Int("/items/2/index/status") == 201);
    CHECK(d.Str("/items/3/index/error/type") == "mapper_parsing_exception");
    CHECK(d.Str("/items/3/index/error/reason") ==
          "object mapping for [o] tried to parse field [o] as object, but found a concrete value");
    CHECK(d.Str("/items/4/index/error/type") == "mapper_parsing_exception");
    CHECK(d.Int("/items/5/index/status") == 400);  // an object into a text field
    CHECK(d.Int("/items/6/index/status") == 400);  // not JSON
    CHECK(d.Str("/items/6/index/error/type") == "mapper_parsing_exception");
    CHECK(d.Int("/items/7/index/status") == 201);
    CHECK(es.Documents("t").size() == 3);

    // Nulls are fine whatever the mapping; a strict mapping refuses unknown fields.
    r = c.Json("PUT", "/strict",
               R"({"mappings":{"dynamic":"strict","properties":{"a":{"type":"integer"}}}})");
    REQUIRE(r.status == 200);
    r = c.Bulk(Action("index", "strict", "1", 1) +
               R"({"a":null})"
               "\n" +
               Action("index", "strict", "2", 1) +
               R"({"a":1,"b":2})"
               "\n");
    Doc s(r.body);
    CHECK(s.Int("/items/0/index/status") == 201);
    CHECK(s.Str("/items/1/index/error/type") == "strict_dynamic_mapping_exception");
}

TEST_CASE("gzip, chunked and 100-continue request bodies are decoded") {
    EsDouble es;
    Client c(es.url());
    const std::string body = Action("index", "z", "1", 1) + R"({"v":"gzip"})"
                                                            "\n";
    Reply r = c.Do("POST", "/_bulk", Gzip(body),
                   {"Content-Type: application/x-ndjson", "Content-Encoding: gzip"});
    CHECK(r.status == 200);
    CHECK_FALSE(Doc(r.body).Bool("/errors"));
    CHECK(es.Get("z", "1")->source == R"({"v":"gzip"})");
    auto log = es.Requests();
    REQUIRE(!log.empty());
    CHECK(log.back().body == body);  // the log holds the decoded body
    CHECK(log.back().headers.at("content-encoding") == "gzip");
    CHECK(log.back().status == 200);

    r = c.Do("POST", "/_bulk", "not gzip at all\n",
             {"Content-Type: application/x-ndjson", "Content-Encoding: gzip"});
    CHECK(r.status == 400);

    const std::string body2 = Action("index", "z", "2", 1) + R"({"v":"chunked"})"
                                                             "\n";
    std::string chunked;
    for (size_t i = 0; i < body2.size(); i += 10) {
        std::string part = body2.substr(i, 10);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", part.size());
        chunked += std::string(size) + ";ext=1\r\n" + part + "\r\n";
    }
    chunked += "0\r\n\r\n";
    std::string out = RawExchange(
        es.port(),
        "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
        "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" +
            chunked);
    CHECK(out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(es.Get("z", "2")->source == R"({"v":"chunked"})");
}

TEST_CASE("a client's connection is kept alive across requests") {
    EsDouble es;
    Client c(es.url());
    for (int i = 0; i < 5; ++i) {
        CHECK(c.Bulk(Action("index", "k", std::to_string(i), 1) + "{}\n").status == 200);
    }
    CHECK(c.Get("/").status == 200);
    CHECK(c.Do("HEAD", "/k").status == 200);
    CHECK(c.Get("/k/_count").status == 200);
    CHECK(es.connections_opened() == 1);
    Client other(es.url());
    CHECK(other.Get("/").status == 200);
    CHECK(es.connections_opened() == 2);
    // Connection: close is honoured.
    std::string out =
        RawExchange(es.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(out.find("connection: close") != std::string::npos);
    CHECK(out.find("You Know, for Search") != std::string::npos);
}

TEST_CASE("injected faults behave as the reference's failures do") {
    EsDouble es;
    Client c(es.url());
    const std::string one = Action("index", "f", "1", 1) + "{}\n";

    es.Inject(Rule(EsDouble::Fault::kReject429, 2));
    CHECK(c.Get("/").status == 200);  // request faults hit bulk requests only by default
    for (int i = 0; i < 2; ++i) {
        Reply r = c.Bulk(one);
        CHECK(r.status == 429);
        CHECK(ErrorType(r) == "es_rejected_execution_exception");
        CHECK(Doc(r.body).Int("/status") == 429);
    }
    CHECK_FALSE(es.Get("f", "1").has_value());  // a rejected request changed nothing
    CHECK(c.Bulk(one).status == 200);

    es.Inject(Rule(EsDouble::Fault::kUnavailable503, 1));
    Reply r = c.Bulk(Action("index", "f", "2", 1) + "{}\n");
    CHECK(r.status == 503);
    CHECK(Doc(r.body).Int("/status") == 503);
    CHECK_FALSE(es.Get("f", "2").has_value());

    EsDouble::FaultRule everything = Rule(EsDouble::Fault::kUnavailable503, 1);
    everything.endpoint = "";
    es.Inject(everything);
    CHECK(c.Get("/").status == 503);
    CHECK(c.Get("/").status == 200);

    // Item faults: only the matching item fails; the others are applied.
    es.Inject(Rule(EsDouble::Fault::kItem429, 1, "b"));
    es.Inject(Rule(EsDouble::Fault::kMapperParsing, 1, "c"));
    r = c.Bulk(Action("index", "f", "a", 1) + "{}\n" + Action("index", "f", "b", 1) + "{}\n" +
               Action("index", "f", "c", 1) + "{}\n");
    Doc d(r.body);
    CHECK(r.status == 200);
    CHECK(d.Bool("/errors"));
    CHECK(d.Int("/items/0/index/status") == 201);
    CHECK(d.Int("/items/1/index/status") == 429);
    CHECK(d.Str("/items/1/index/error/type") == "es_rejected_execution_exception");
    CHECK(d.Int("/items/2/index/status") == 400);
    CHECK(d.Str("/items/2/index/error/type") == "mapper_parsing_exception");
    CHECK(es.Get("f", "a").has_value());
    CHECK_FALSE(es.Get("f", "b").has_value());
    r = c.Bulk(Action("index", "f", "b", 1) + "{}\n");  // the retry goes through
    CHECK(Doc(r.body).Int("/items/0/index/status") == 201);

    // A reset mid-response: the write is applied, the client sees a broken response.
    es.Inject(Rule(EsDouble::Fault::kResetMidResponse, 1));
    r = c.Bulk(Action("index", "f", "r", 1) + "{}\n");
    CHECK(r.code != CURLE_OK);
    CHECK(es.Get("f", "r").has_value());
    r = c.Bulk(Action("index", "f", "r", 1) + "{}\n");  // external_gte takes the replay
    CHECK(r.code == CURLE_OK);
    CHECK(Doc(r.body).Int("/items/0/index/status") == 200);

    // A slow response arrives after the delay.
    es.Inject(Rule(EsDouble::Fault::kSlow, 1, "", 300ms));
    auto start = std::chrono::steady_clock::now();
    CHECK(c.Bulk(Action("index", "f", "s", 1) + "{}\n").status == 200);
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    start = std::chrono::steady_clock::now();
    CHECK(c.Bulk(Action("index", "f", "s", 2) + "{}\n").status == 200);
    CHECK(std::chrono::steady_clock::now() - start < 300ms);

    // count = -1 lasts until cleared.
    es.Inject(Rule(EsDouble::Fault::kReject429, -1));
    CHECK(c.Bulk(one).status == 429);
    CHECK(c.Bulk(one).status == 429);
    es.ClearFaults();
    CHECK(c.Bulk(one).status == 200);
}

TEST_CASE("requests in flight at once are counted") {
    EsDouble es;
    es.Inject(Rule(EsDouble::Fault::kSlow, 3, "", 400ms));
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&es, i] {
            Client c(es.url());
            c.Bulk(Action("index", "p", std::to_string(i), 1) + "{}\n");
        });
    }
    for (auto &t : threads) t.join();
    CHECK(es.max_in_flight() == 3);
    CHECK(es.connections_opened() == 3);
    CHECK(es.Documents("p").size() == 3);
}

TEST_CASE("with credentials configured, every request must authenticate") {
    EsDouble es(Opts([](auto &o) {
        o.user = "elastic";
        o.password = "s3cret";
        o.api_key = "a2V5OnNlY3JldA==";
    }));
    Client c(es.url());
    Reply r = c.Get("/");
    CHECK(r.status == 401);
    CHECK(ErrorType(r) == "security_exception");
    CHECK(ErrorReason(r) == "missing authentication credentials for REST request [/]");
    CHECK(r.HasHeader("www-authenticate: basic realm=\"security\""));
    CHECK(r.HasHeader("www-authenticate: apikey"));
    CHECK(c.Bulk(Action("index", "a", "1", 1) + "{}\n").status == 401);
    CHECK_FALSE(es.IndexExists("a"));

    c.SetUser("elastic:wrong");
    r = c.Get("/");
    CHECK(r.status == 401);
    CHECK(ErrorReason(r) == "unable to authenticate user [elastic] for REST request [/]");
    c.SetUser("elastic:s3cret");
    CHECK(c.Get("/").status == 200);

    Client k(es.url());
    CHECK(k.Do("GET", "/", "", {"Authorization: ApiKey a2V5OnNlY3JldA=="}).status == 200);
    CHECK(k.Do("GET", "/", "", {"Authorization: ApiKey bm9wZQ=="}).status == 401);
}

TEST_CASE("_count and _search see writes after a refresh; GET _doc is real time") {
    EsDouble es;
    Client c(es.url());
    CHECK(c.Get("/nothing/_count").status == 404);
    CHECK(ErrorType(c.Get("/nothing/_doc/1")) == "index_not_found_exception");
    c.Bulk(Action("index", "s", "1", 3) +
           R"({"k":1})"
           "\n" +
           Action("index", "s", "2", 4) +
           R"({"k":2})"
           "\n" +
           Action("index", "s", "3", 5) +
           R"({"k":3})"
           "\n");

    Reply r = c.Get("/s/_doc/2");
    CHECK(r.status == 200);
    Doc got(r.body);
    CHECK(got.Bool("/found"));
    CHECK(got.Int("/_version") == 4);
    CHECK(got.Int("/_source/k") == 2);
    r = c.Get("/s/_doc/9");
    CHECK(r.status == 404);
    CHECK_FALSE(Doc(r.body).Bool("/found"));

    CHECK(Doc(c.Get("/s/_count").body).Int("/count") == 0);  // not refreshed yet
    r = c.Do("POST", "/s/_refresh");
    CHECK(r.status == 200);
    r = c.Get("/s/_count");
    CHECK(Doc(r.body).Int("/count") == 3);
    CHECK(Doc(r.body).Int("/_shards/failed") == 0);

    r = c.Json("POST", "/s/_search", R"({"query":{"match_all":{}},"size":2,"version":true})");
    REQUIRE(r.status == 200);
    Doc hits(r.body);
    CHECK(hits.Int("/hits/total/value") == 3);
    CHECK(hits.Str("/hits/total/relation") == "eq");
    CHECK(hits.Str("/hits/hits/0/_id") == "1");
    CHECK(hits.Int("/hits/hits/0/_version") == 3);
    CHECK(hits.Int("/hits/hits/1/_source/k") == 2);
    CHECK_FALSE(hits.Has("/hits/hits/2"));
    r = c.Json("POST", "/s/_search", R"({"query":{"term":{"k":1}}})");
    CHECK(r.status == 400);
    r = c.Json("POST", "/s/_search", R"({"query":{"ids":{"values":["3"]}}})");
    CHECK(Doc(r.body).Int("/hits/total/value") == 1);
    CHECK_FALSE(Doc(c.Get("/s/_search").body).Has("/hits/hits/0/_version"));

    // ?refresh=true on the bulk makes its writes searchable at once.
    c.Do("POST", "/_bulk?refresh=true", Action("delete", "s", "1", 9),
         {"Content-Type: application/x-ndjson"});
    CHECK(Doc(c.Get("/s/_count").body).Int("/count") == 2);
    CHECK(Doc(c.Get("/_count").body).Int("/count") == 2);
}

TEST_CASE("with store disabled the double parses and counts but keeps nothing") {
    EsDouble es(Opts([](auto &o) { o.store = false; }));
    Client c(es.url());
    std::string body;
    for (int i = 0; i < 100; ++i) {
        body += Action("index", "b", std::to_string(i), 1) + R"({"x":"y"})"
                                                             "\n";
    }
    Reply r = c.Bulk(body);
    CHECK(r.status == 200);
    CHECK_FALSE(Doc(r.body).Bool("/errors"));
    CHECK(Doc(r.body).Int("/items/99/index/status") == 201);
    CHECK(es.bulk_items() == 100);
    CHECK(es.Documents("b").empty());
    CHECK(es.Requests().back().body.empty());
    // Still strict about the framing.
    CHECK(c.Bulk(body.substr(0, body.size() - 1)).status == 400);
    CHECK(es.bulk_items() == 100);
}

// The URL of the standalone double's "listening on URL" line, once the whole line is there.
std::string ListeningUrl(BackgroundProcess &p) {
    const std::string prefix = "listening on ";
    for (int i = 0; i < 200; ++i) {
        std::string out = p.ReadStdoutSoFar();
        size_t at = out.find(prefix);
        size_t end = at == std::string::npos ? at : out.find('\n', at);
        if (end != std::string::npos) return out.substr(at + prefix.size(), end - at - prefix.size());
        std::this_thread::sleep_for(50ms);
    }
    FAIL("the double printed no \"listening on\" line within 10 s: " << p.ReadStdoutSoFar());
    return "";
}

TEST_CASE("the standalone program serves until SIGTERM and takes faults over HTTP") {
    BackgroundProcess p({CDCCTL_ES_DOUBLE, "--port", "0", "--user", "u", "--password", "p"});
    std::string url = ListeningUrl(p);
    REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0);
    Client c(url);
    CHECK(c.Get("/").status == 401);
    c.SetUser("u:p");
    CHECK(c.Get("/").status == 200);
    Reply r = c.Json("POST", "/_double/fault", R"({"fault":"item_429","count":1})");
    CHECK(r.status == 200);
    r = c.Bulk(Action("index", "x", "1", 1) + "{}\n" + Action("index", "x", "2", 1) + "{}\n");
    CHECK(Doc(r.body).Int("/items/0/index/status") == 429);
    CHECK(Doc(r.body).Int("/items/1/index/status") == 201);
    r = c.Get("/_double/stats");
    CHECK(Doc(r.body).Int("/bulk_items") == 1);
    p.Kill(SIGTERM);
    auto result = p.WaitFor(10s);
    REQUIRE(result.has_value());
    CHECK(result->exit_code == 0);

    BackgroundProcess os(
        {CDCCTL_ES_DOUBLE, "--port", "0", "--distribution", "opensearch", "--no-store"});
    url = ListeningUrl(os);
    Doc info(Client(url).Get("/").body);
    CHECK(info.Str("/version/distribution") == "opensearch");
    CHECK(info.Str("/version/number") == "2.11.1");
}
