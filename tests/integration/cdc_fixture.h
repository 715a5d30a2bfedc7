// Shared by the PostgreSQL integration tests: a real server with a database, a scratch dir with
// a pipeline file in it, the cdcctl binary, and the NDJSON it prints, parsed.
#pragma once

#include <doctest/doctest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/servers/postgres_server.h"
#include "sources/postgres/replication_messages.h"
#include "tests/servers/process.h"

namespace cdcctl::testing {

// One change event from stdout; every field value kept as minified JSON text, so a test can
// compare `e.after.at("price") == "\"24.90\""` without caring about the parser's types.
struct Event {
    std::string raw;
    std::string op;
    bool has_before = false;
    bool has_after = false;
    std::map<std::string, std::string> before;
    std::map<std::string, std::string> after;
    std::map<std::string, std::string> source;
    std::string ts_ms;

    std::string Id() const {  // the "id" column of whichever row the event carries
        if (has_after) return after.at("id");
        if (has_before) return before.at("id");
        return "";
    }
};

inline std::map<std::string, std::string> ObjectFields(simdjson::dom::element e) {
    std::map<std::string, std::string> out;
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) return out;
    for (auto field : obj) out[std::string(field.key)] = simdjson::minify(field.value);
    return out;
}

// Every line must be one JSON object; a line that is not fails the test.
inline std::vector<Event> ParseEvents(const std::string &ndjson) {
    std::vector<Event> events;
    simdjson::dom::parser parser;
    std::istringstream in(ndjson);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        simdjson::dom::element doc;
        auto err = parser.parse(line).get(doc);
        REQUIRE_MESSAGE(!err, "not JSON: " << line);
        Event ev;
        ev.raw = line;
        simdjson::dom::element payload = doc;
        simdjson::dom::element p;
        if (!doc["payload"].get(p)) payload = p;  // schemas: true
        std::string_view op;
        if (!payload["op"].get(op)) ev.op = std::string(op);
        simdjson::dom::element v;
        if (!payload["before"].get(v) && !v.is_null()) {
            ev.has_before = true;
            ev.before = ObjectFields(v);
        }
        if (!payload["after"].get(v) && !v.is_null()) {
            ev.has_after = true;
            ev.after = ObjectFields(v);
        }
        if (!payload["source"].get(v)) ev.source = ObjectFields(v);
        if (!payload["ts_ms"].get(v)) ev.ts_ms = simdjson::minify(v);
        events.push_back(std::move(ev));
    }
    return events;
}

inline size_t CountLines(const std::string &s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

inline uint64_t Lsn(const std::string &text) {
    uint64_t lsn = 0;
    REQUIRE_MESSAGE(cdcctl::ParseLsn(text, &lsn), "not an LSN: " << text);
    return lsn;
}

inline std::string Unquote(const std::string &json_string) {
    if (json_string.size() >= 2 && json_string.front() == '"') return json_string.substr(1, json_string.size() - 2);
    return json_string;
}

// A PostgreSQL server with database "shop", and a directory for pipeline files and state.
class CdcFixture {
public:
    explicit CdcFixture(PostgresServerOptions options = {}) {
        pg = PostgresServer::Start(options);
        pg->CreateDatabase(db);
    }

    void Sql(const std::string &sql) { pg->Exec(sql, db); }
    std::string Value(const std::string &sql) { return pg->QueryValue(sql, db); }

    // A pipeline named `name` reading `tables`; `source_extra` and `sink` are YAML lines added
    // under source: (indented by two) and replacing the sink block. The password comes from the
    // environment, as users are told to do.
    std::string WritePipeline(const std::string &name, const std::string &tables = "[public.product]",
                              const std::string &source_extra = "",
                              const std::string &sink = "sink:\n  type: stdout\n") {
        std::string path = dir.File(name + ".yaml");
        std::string yaml = "pipeline: " + name + "\nsource:\n  type: postgres\n  host: 127.0.0.1\n  port: " +
                           std::to_string(pg->port()) + "\n  user: " + user + "\n  password: ${TEST_PG_PASSWORD}\n" +
                           "  database: " + db + "\n  tables: " + tables + "\n  topic_prefix: foo\n" +
                           source_extra + sink;
        WriteFile(path, yaml);
        return path;
    }

    std::map<std::string, std::string> Env() const { return {{"TEST_PG_PASSWORD", password}}; }

    // The connection as libpq's variables name it, for the shipped files in pipelines/.
    std::map<std::string, std::string> PgEnv() const {
        return {{"PGHOST", pg->host()},
                {"PGPORT", std::to_string(pg->port())},
                {"PGUSER", user},
                {"PGPASSWORD", password}};
    }

    // Copies pipelines/<name> into the test's directory, creates the product table the shipped
    // pipelines read with two rows, and checks the file with `cdcctl check` under `env`.
    std::string ShippedPipeline(const std::string &name, const std::map<std::string, std::string> &env) {
        Sql("CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))");
        Sql("INSERT INTO product VALUES (1, 'kettle', 24.90), (2, 'teapot', 18.50)");
        std::string file = dir.File(name);
        WriteFile(file, ReadFile(std::string(CDCCTL_SOURCE_DIR "/pipelines/") + name));
        ProcessResult check = RunProcess({CDCCTL_BINARY, "check", file}, env, std::chrono::seconds(60), dir.path());
        CHECK_MESSAGE(check.exit_code == 0, check.Describe() << check.out);
        return file;
    }

    ProcessResult Cdcctl(const std::vector<std::string> &args,
                         std::chrono::seconds timeout = std::chrono::seconds(120)) {
        std::vector<std::string> argv{CDCCTL_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return RunProcess(argv, Env(), timeout, dir.path());
    }

    // `cdcctl run --once FILE`, which must succeed; returns the events it printed.
    std::vector<Event> RunOnce(const std::string &pipeline) {
        ProcessResult r = Cdcctl({"run", "--once", pipeline});
        REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
        return ParseEvents(r.out);
    }

    std::unique_ptr<BackgroundProcess> Start(const std::vector<std::string> &args) {
        std::vector<std::string> argv{CDCCTL_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return std::make_unique<BackgroundProcess>(argv, Env(), dir.path());
    }

    std::unique_ptr<PostgresServer> pg;
    TempDir dir;
    std::string db = "shop";
    std::string user = "postgres";
    std::string password = "postgres";
};

}  // namespace cdcctl::testing
