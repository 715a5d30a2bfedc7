#include "sinks/elasticsearch/es_config.h"

namespace cdcctl {
namespace {

std::string CheckUrl(std::string_view url) {
    bool ok = (url.rfind("http://", 0) == 0 && url.size() > 7) ||
              (url.rfind("https://", 0) == 0 && url.size() > 8);
    if (!ok) return "expected an http:// or https:// URL, such as http://localhost:9200";
    // Credentials in a URL would be printed wherever the URL is (messages, check, the
    // effective configuration); they belong in the secret keys.
    if (url.find('@') != std::string_view::npos) {
        return "put credentials in 'user' and 'password' or 'api_key', not in the URL";
    }
    return "";
}

// Elasticsearch index names: lowercase, no \ / * ? " < > | space , #, not starting with - _ +.
// Placeholders are checked after they are filled in, per event.
std::string CheckIndex(std::string_view index) {
    if (index.empty()) return "must not be empty";
    if (index.front() == '-' || index.front() == '_' || index.front() == '+') {
        return "an index name must not start with '-', '_' or '+'";
    }
    for (size_t i = 0; i < index.size(); ++i) {
        char c = index[i];
        if (c == '$' && i + 1 < index.size() && index[i + 1] == '{') {
            i = index.find('}', i);
            if (i == std::string_view::npos) break;
            continue;
        }
        if (c >= 'A' && c <= 'Z') return "index names are lowercase";
        if (std::string_view("\\/*?\"<>| ,#:").find(c) != std::string_view::npos) {
            return std::string("an index name must not contain '") + c + "'";
        }
    }
    return "";
}

}  // namespace

const StructSpec<ElasticsearchSinkConfig> &ElasticsearchSinkSpec() {
    static const StructSpec<ElasticsearchSinkConfig> spec = [] {
        using C = ElasticsearchSinkConfig;
        StructSpec<C> s("sink", "elasticsearch",
                        "Indexes change events into Elasticsearch 7.x/8.x or OpenSearch 1.x/2.x "
                        "with the _bulk API, using the source position as an external version so "
                        "that replays and late retries never regress a document.");
        s.String("url", &C::url, "The node to send requests to.")
            .RequiredUnless("urls")
            .ConflictsWith({"urls"})
            .Check(CheckUrl);
        s.StringList("urls", &C::urls,
                     "Several nodes of one cluster, used round robin; a node that fails is "
                     "skipped until it answers again.")
            .NonEmpty()
            .Check(CheckUrl);
        s.String("index", &C::index,
                 "The target index. ${topic} (the event's topic, lowercased), ${schema} and "
                 "${table} are filled in per event.")
            .Placeholders({"topic", "schema", "table"})
            .Check(CheckIndex);
        s.Enum("document", &C::document,
               {{"row", EsDocument::kRow}, {"envelope", EsDocument::kEnvelope}},
               "row indexes the row state (the after state) with dates and timestamps as ISO-8601 "
               "text and precise decimals as decimal text, which the mapping of an index cdcctl "
               "creates types as date and keyword; envelope indexes the whole Debezium change "
               "event as the stdout sink writes it.");
        s.Enum("id", &C::id,
               {{"key", EsIdMode::kKey}, {"position", EsIdMode::kPosition}, {"none", EsIdMode::kNone}},
               "key uses the primary key as the document id (one document per row; the columns "
               "of a composite key joined with '|'); position uses topic and source position "
               "(one document per event, deletes included, append-only); none lets "
               "Elasticsearch choose (replays duplicate, deletes cannot be applied).");
        s.String("user", &C::user, "The user for basic authentication.").ConflictsWith({"api_key"});
        s.SecretString("password", &C::password, "The password for basic authentication.");
        s.SecretString("api_key", &C::api_key,
                       "An API key (the base64 id:key form), sent as Authorization: ApiKey.");
        s.String("ca_file", &C::ca_file,
                 "A PEM file of the certificate authorities to trust for https:// URLs.");
        s.Bool("insecure", &C::insecure,
               "Skip TLS certificate and host name verification. Only for tests.");
        s.Enum("on_delete", &C::on_delete,
               {{"delete", EsOnDelete::kDelete}, {"ignore", EsOnDelete::kIgnore}},
               "What a delete event does to the document when id is key. Truncates are not "
               "applied to the index.");
        s.Enum("on_malformed", &C::on_malformed,
               {{"fail", EsOnMalformed::kFail},
                {"warn", EsOnMalformed::kWarn},
                {"dead_letter", EsOnMalformed::kDeadLetter}},
               "What happens when Elasticsearch rejects a document for good "
               "(mapper_parsing_exception, ...): fail stops the run with nothing past it "
               "confirmed; warn logs and skips it; dead_letter appends the event and the "
               "error to dead_letter_path and goes on.");
        s.String("dead_letter_path", &C::dead_letter_path,
                 "The NDJSON file rejected documents are appended to.")
            .RequiredWhen("on_malformed", "dead_letter");
        s.Size("bulk_max_bytes", &C::bulk_max_bytes, int64_t{1} << 10, int64_t{1} << 30,
               "The largest _bulk request body, before compression.");
        s.Integer("bulk_max_docs", &C::bulk_max_docs, 1, 100000,
                  "The most documents in one _bulk request.");
        s.Integer("concurrency", &C::concurrency, 1, 64, "_bulk requests in flight at once.");
        s.Integer("max_retries", &C::max_retries, 0, 1000,
                  "Retries of a request or item that failed for a passing reason (429, 502, "
                  "503, 504, a dropped connection), with exponential backoff and jitter; then "
                  "the run fails.");
        s.Duration("timeout", &C::timeout, "How long one request may take.");
        s.Bool("gzip", &C::gzip, "Compress request bodies with gzip.");
        return s;
    }();
    return spec;
}

}  // namespace cdcctl
