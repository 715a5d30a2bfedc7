#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "registry/pipeline.h"
#include "core/runtime/log.h"

using namespace cdcctl;
using namespace std::chrono_literals;

namespace {

// A directory of its own per test, removed afterwards.
class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "cdcctl-config-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::string &Path() const { return path_; }

    std::string Write(const std::string &name, const std::string &text) const {
        std::string file = path_ + "/" + name;
        std::filesystem::create_directories(std::filesystem::path(file).parent_path());
        std::ofstream(file) << text;
        return file;
    }

private:
    std::string path_;
};

// The error lines for `yaml` written as `name`, with the temp directory left out so that the
// expectations read like what a user sees for "shop.yaml".
std::vector<std::string> Errors(const std::string &yaml, const std::string &name = "shop.yaml") {
    TempDir dir;
    const std::string file = dir.Write(name, yaml);
    try {
        LoadPipeline(file);
    } catch (const ConfigErrors &e) {
        std::vector<std::string> lines;
        for (const auto &line : e.Lines()) {
            lines.push_back(
                line.rfind(dir.Path() + "/", 0) == 0 ? line.substr(dir.Path().size() + 1) : line);
        }
        return lines;
    }
    return {};
}

std::string OneError(const std::string &yaml, const std::string &name = "shop.yaml") {
    auto lines = Errors(yaml, name);
    REQUIRE(lines.size() == 1);
    return lines[0];
}

PipelineConfig Load(const std::string &yaml, const std::string &name = "shop.yaml") {
    TempDir dir;
    return LoadPipeline(dir.Write(name, yaml));
}

const PostgresSourceConfig &Pg(const PipelineConfig &c) {
    return std::get<PostgresSourceConfig>(c.source);
}

const char *const kMinimal =
    "source:\n"
    "  type: postgres\n"
    "  database: shop\n"
    "  tables: [public.product]\n"
    "sink:\n"
    "  type: stdout\n";

}  // namespace

TEST_CASE("a full pipeline file fills every field of the config") {
    setenv("CDCCTL_TEST_FULL_PASSWORD", "pw-full-1", 1);
    PipelineConfig c = Load(
        "pipeline: orders\n"
        "mode: cdc\n"
        "source:\n"
        "  type: postgres\n"
        "  host: db.internal\n"
        "  port: 6543\n"
        "  user: cdc\n"
        "  password: ${CDCCTL_TEST_FULL_PASSWORD}\n"
        "  database: shop\n"
        "  tables: [public.product, 'sales.*']\n"
        "  exclude_tables: [sales.audit]\n"
        "  topic_prefix: shopdb\n"
        "  snapshot: initial_only\n"
        "  slot: my_slot\n"
        "  publication: my_pub\n"
        "  time_precision_mode: connect\n"
        "  decimal_handling_mode: string\n"
        "  heartbeat_interval: 500ms\n"
        "  sslmode: verify-full\n"
        "transforms: []\n"
        "sink:\n"
        "  type: stdout\n"
        "  format: row\n"
        "  schemas: true\n"
        "state: /var/lib/cdcctl/orders.state\n");
    CHECK(c.name == "orders");
    CHECK(c.mode == PipelineMode::kCdc);
    const auto &pg = Pg(c);
    CHECK(pg.host == "db.internal");
    CHECK(pg.port == 6543);
    CHECK(pg.user == "cdc");
    CHECK(pg.password.value == "pw-full-1");
    CHECK(pg.database == "shop");
    CHECK(pg.tables == std::vector<std::string>{"public.product", "sales.*"});
    CHECK(pg.exclude_tables == std::vector<std::string>{"sales.audit"});
    CHECK(pg.topic_prefix == "shopdb");
    CHECK(pg.snapshot == SnapshotMode::kInitialOnly);
    CHECK(pg.slot == "my_slot");
    CHECK(pg.publication == "my_pub");
    CHECK(pg.time_precision_mode == TimePrecisionMode::kConnect);
    CHECK(pg.decimal_handling_mode == DecimalHandlingMode::kString);
    CHECK(pg.heartbeat_interval == 500ms);
    CHECK(pg.sslmode == "verify-full");
    CHECK(pg.url.empty());
    CHECK(c.transforms.empty());
    const auto &sink = std::get<StdoutSinkConfig>(c.sink);
    CHECK(sink.format == StdoutFormat::kRow);
    CHECK(sink.schemas == true);
    CHECK(c.state_path == "/var/lib/cdcctl/orders.state");
}

TEST_CASE("an omitted key takes the default of the config struct") {
    PipelineConfig c = Load(kMinimal);
    const auto &pg = Pg(c);
    CHECK(c.mode == PipelineMode::kCdc);
    CHECK(pg.host == "localhost");
    CHECK(pg.port == 5432);
    CHECK(pg.snapshot == SnapshotMode::kInitial);
    CHECK(pg.heartbeat_interval == 10s);
    CHECK(pg.sslmode == "prefer");
    CHECK(pg.exclude_tables.empty());
    const auto &sink = std::get<StdoutSinkConfig>(c.sink);
    CHECK(sink.format == StdoutFormat::kEnvelope);
    CHECK(sink.schemas == false);
}

TEST_CASE("the pipeline name defaults to the file name without extension") {
    CHECK(Load(kMinimal, "inventory.yaml").name == "inventory");
    CHECK(Load(kMinimal, "shop.prod.yml").name == "shop.prod");
}

TEST_CASE("topic prefix, slot and publication default from the pipeline name") {
    const auto &pg = Pg(Load(kMinimal, "Shop-EU.yaml"));
    CHECK(pg.topic_prefix == "Shop-EU");
    CHECK(pg.slot == "cdcctl_shop_eu");
    CHECK(pg.publication == "cdcctl_shop_eu");
}

TEST_CASE("the state file defaults to .cdcctl/<pipeline>.state beside the pipeline file") {
    TempDir dir;
    PipelineConfig c = LoadPipeline(dir.Write("conf/shop.yaml", kMinimal));
    CHECK(c.state_path == dir.Path() + "/conf/.cdcctl/shop.state");
}

TEST_CASE("a relative state path is relative to the pipeline file's directory") {
    TempDir dir;
    PipelineConfig c = LoadPipeline(
        dir.Write("conf/shop.yaml", std::string(kMinimal) + "state: ../state/shop.state\n"));
    CHECK(c.state_path == dir.Path() + "/state/shop.state");
}

TEST_CASE("an unknown key is reported with its position and the nearest known key") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "  slot_nme: x\n"
                   "sink:\n"
                   "  type: stdout\n") ==
          "shop.yaml:5:3: source.slot_nme: unknown key (did you mean 'slot'?)");
}

TEST_CASE("an unknown key with no near match lists the known keys") {
    CHECK(OneError(std::string(kMinimal) + "  compression: gzip\n") ==
          "shop.yaml:7:3: sink.compression: unknown key (expected one of: format, schemas, "
          "type)");
}

TEST_CASE("a misspelt key is matched across a swapped pair of letters") {
    CHECK(OneError(std::string(kMinimal) + "  fromat: row\n") ==
          "shop.yaml:7:3: sink.fromat: unknown key (did you mean 'format'?)");
}

TEST_CASE("an unknown top-level key is reported") {
    CHECK(OneError(std::string(kMinimal) + "sinks: {}\n") ==
          "shop.yaml:7:1: sinks: unknown key (did you mean 'sink'?)");
}

TEST_CASE("a non-integer port is rejected with the value it got") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  port: abc\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:3:9: source.port: expected an integer, got 'abc'");
}

TEST_CASE("a port outside 1..65535 is rejected") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  port: 65536\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:3:9: source.port: expected an integer from 1 to 65535, got '65536'");
}

TEST_CASE("a boolean accepts only true or false") {
    CHECK(OneError(std::string(kMinimal) + "  schemas: yes please\n") ==
          "shop.yaml:7:12: sink.schemas: expected true or false, got 'yes please'");
}

TEST_CASE("a list key given a scalar is rejected") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: public.product\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:4:11: source.tables: expected a list, got 'public.product'");
}

TEST_CASE("a string key given a mapping is rejected") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: {name: shop}\n"
                   "  tables: [public.product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:3:13: source.database: expected a string, got a mapping");
}

TEST_CASE("an invalid enum value lists the choices and the nearest one") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "  snapshot: inital\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:5:13: source.snapshot: invalid value 'inital' (expected one of: initial, "
          "never, initial_only, always; did you mean 'initial'?)");
}

TEST_CASE("an enum value far from every choice only lists the choices") {
    CHECK(OneError(std::string(kMinimal) + "  format: protobuf\n") ==
          "shop.yaml:7:11: sink.format: invalid value 'protobuf' (expected one of: envelope, "
          "row)");
}

TEST_CASE("a missing required key is reported at the mapping that lacks it") {
    CHECK(OneError("pipeline: shop\n"
                   "mode: cdc\n"
                   "source:\n"
                   "  type: postgres\n"
                   "  tables: [public.product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:3:1: source.database: required key is missing");
}

TEST_CASE("a missing source or sink is reported at the top of the file") {
    CHECK(Errors("# a comment\npipeline: shop\n") ==
          std::vector<std::string>{"shop.yaml:2:1: source: required key is missing",
                                   "shop.yaml:2:1: sink: required key is missing"});
}

TEST_CASE("an empty table list is rejected") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: []\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:4:11: source.tables: expected at least one entry, got an empty list");
}

TEST_CASE("a table pattern without a schema is rejected at its list entry") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: [public.a, product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:4:22: source.tables[1]: invalid value 'product' (expected schema.table, "
          "such as public.product or public.*)");
}

TEST_CASE("an undefined environment variable is an error naming it") {
    unsetenv("CDCCTL_TEST_UNSET");
    CHECK(OneError(std::string(kMinimal) + "state: ${CDCCTL_TEST_UNSET}\n") ==
          "shop.yaml:7:8: state: environment variable 'CDCCTL_TEST_UNSET' is not set");
}

TEST_CASE("variables are interpolated inside strings") {
    setenv("CDCCTL_TEST_ENV", "eu", 1);
    PipelineConfig c = Load(std::string(kMinimal) + "pipeline: pre-${CDCCTL_TEST_ENV}-post\n");
    CHECK(c.name == "pre-eu-post");
}

TEST_CASE("a variable may give a number") {
    setenv("CDCCTL_TEST_PORT", "6432", 1);
    PipelineConfig c = Load(
        "source:\n"
        "  type: postgres\n"
        "  port: ${CDCCTL_TEST_PORT}\n"
        "  database: shop\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    CHECK(Pg(c).port == 6432);
}

TEST_CASE("$${ writes a literal ${") {
    PipelineConfig c = Load(
        "source:\n"
        "  type: postgres\n"
        "  user: a$${B}c\n"
        "  database: shop\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    CHECK(Pg(c).user == "a${B}c");
}

TEST_CASE("keys are not interpolated") {
    CHECK(OneError(std::string(kMinimal) + "${X}: 1\n") ==
          "shop.yaml:7:1: ${X}: unknown key (expected one of: pipeline, mode, source, "
          "transforms, sink, state)");
}

TEST_CASE("an unterminated ${ is an error") {
    CHECK(OneError(std::string(kMinimal) + "pipeline: a${B\n") ==
          "shop.yaml:7:11: pipeline: unterminated '${' (write '$${' for a literal '${')");
}

TEST_CASE("every error in the file is reported together in file order") {
    CHECK(Errors("pipeline: shop\n"
                 "source:\n"
                 "  type: postgres\n"
                 "  port: abc\n"
                 "  tables: [public.product]\n"
                 "  snapshot: sometimes\n"
                 "sink:\n"
                 "  type: stdout\n"
                 "  schemas: maybe\n") ==
          std::vector<std::string>{
              "shop.yaml:2:1: source.database: required key is missing",
              "shop.yaml:4:9: source.port: expected an integer, got 'abc'",
              "shop.yaml:6:13: source.snapshot: invalid value 'sometimes' (expected one of: "
              "initial, never, initial_only, always)",
              "shop.yaml:9:12: sink.schemas: expected true or false, got 'maybe'",
          });
}

TEST_CASE("the exception is a ConfigError from 'config' whose message is all the lines") {
    TempDir dir;
    const std::string file = dir.Write("shop.yaml", "source: 1\nsink: 2\n");
    try {
        LoadPipeline(file);
        FAIL("LoadPipeline accepted a broken file");
    } catch (const ConfigError &e) {
        CHECK(e.Component() == "config");
        CHECK(std::string(e.what()) == file + ":1:9: source: expected a mapping, got '1'\n" + file +
                                           ":2:7: sink: expected a mapping, got '2'");
        const auto *all = dynamic_cast<const ConfigErrors *>(&e);
        REQUIRE(all != nullptr);
        CHECK(all->Lines().size() == 2);
    }
}

TEST_CASE("secrets are shown as *** by DescribePipeline") {
    setenv("CDCCTL_TEST_DESCRIBE_PW", "pw-describe-7", 1);
    PipelineConfig c = Load(
        "source:\n"
        "  type: postgres\n"
        "  password: ${CDCCTL_TEST_DESCRIBE_PW}\n"
        "  database: shop\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    const std::string text = DescribePipeline(c);
    CHECK(text.find("pw-describe-7") == std::string::npos);
    CHECK(text.find("  password: ***\n") != std::string::npos);
}

TEST_CASE("DescribePipeline shows the effective configuration with defaults filled in") {
    TempDir dir;
    PipelineConfig c = LoadPipeline(dir.Write("shop.yaml", kMinimal));
    CHECK(DescribePipeline(c) ==
          "pipeline: shop\n"
          "mode: cdc\n"
          "source:\n"
          "  type: postgres\n"
          "  host: localhost\n"
          "  port: 5432\n"
          "  user: \"\"\n"
          "  password: \"\"\n"
          "  database: shop\n"
          "  tables: [public.product]\n"
          "  exclude_tables: []\n"
          "  topic_prefix: shop\n"
          "  snapshot: initial\n"
          "  slot: cdcctl_shop\n"
          "  publication: cdcctl_shop\n"
          "  time_precision_mode: adaptive\n"
          "  decimal_handling_mode: precise\n"
          "  heartbeat_interval: 10s\n"
          "  sslmode: prefer\n"
          "  sslrootcert: \"\"\n"
          "  url: \"\"\n"
          "transforms: []\n"
          "sink:\n"
          "  type: stdout\n"
          "  format: envelope\n"
          "  schemas: false\n"
          "state: " +
              dir.Path() + "/.cdcctl/shop.state\n");
}

TEST_CASE("a secret that fails its check is reported without its value") {
    setenv("CDCCTL_TEST_BAD_URL", "postgresql://u:pw-bad-url-3@h:notaport/db?bogus=1", 1);
    const std::string line = OneError(
        "source:\n"
        "  type: postgres\n"
        "  url: ${CDCCTL_TEST_BAD_URL}\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    CHECK(line ==
          "shop.yaml:3:8: source.url: invalid value (not a PostgreSQL connection URI or "
          "key=value string; check its quoting and percent-encoding)");
}

TEST_CASE("secrets are registered for redaction in logs, including a password inside a url") {
    setenv("CDCCTL_TEST_URL", "postgresql://cdc:pw-in-url-9@db:5432/shop", 1);
    PipelineConfig c = Load(
        "source:\n"
        "  type: postgres\n"
        "  url: ${CDCCTL_TEST_URL}\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    CHECK(Pg(c).url.value == "postgresql://cdc:pw-in-url-9@db:5432/shop");
    CHECK(log::Redact("connecting with pw-in-url-9") == "connecting with ***");
}

TEST_CASE("a url replaces host, port, user and database, which are then not shown") {
    setenv("CDCCTL_TEST_URL2", "postgresql://cdc@db/shop", 1);
    PipelineConfig c = Load(
        "source:\n"
        "  type: postgres\n"
        "  url: ${CDCCTL_TEST_URL2}\n"
        "  tables: [public.product]\n"
        "sink: {type: stdout}\n");
    const std::string text = DescribePipeline(c);
    CHECK(text.find("  url: ***\n") != std::string::npos);
    CHECK(text.find("host:") == std::string::npos);
    CHECK(text.find("database:") == std::string::npos);
}

TEST_CASE("a url together with host is an error") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  host: db\n"
                   "  url: postgresql://db/shop\n"
                   "  tables: [public.product]\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:3:3: source.host: cannot be combined with 'url'; remove one of them");
}

TEST_CASE("a YAML syntax error is reported at its position") {
    CHECK(OneError("source:\n"
                   "  tables: [public.a\n"
                   "sink: x\n") == "shop.yaml:3:5: end of sequence flow not found");
}

TEST_CASE("YAML nested too deeply is an error, not a stack overflow") {
    CHECK(OneError(std::string(5000, '[')) ==
          "shop.yaml:1:1: the YAML nests too deeply (more than 2000 levels)");
}

TEST_CASE("a key given twice in one mapping is an error") {
    CHECK(OneError(std::string(kMinimal) + "  format: row\n  format: envelope\n") ==
          "shop.yaml:8:3: sink.format: duplicate key (first set at 7:3)");
}

TEST_CASE("an unknown source type suggests the nearest known type") {
    CHECK(OneError("source:\n"
                   "  type: postgress\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:2:9: source.type: unknown source type 'postgress' (did you mean "
          "'postgres'?)");
}

TEST_CASE("an unknown sink type lists the known types") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: kafka}\n") ==
          "shop.yaml:2:14: sink.type: unknown sink type 'kafka' (expected one of: stdout, elasticsearch, parquet)");
}

TEST_CASE("a source without a type is reported") {
    CHECK(OneError("source:\n"
                   "  database: shop\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:1:1: source.type: required key is missing");
}

TEST_CASE("any transform is an unknown transform type in this version") {
    CHECK(OneError(std::string(kMinimal) + "transforms:\n  - type: unwrap\n") ==
          "shop.yaml:8:11: transforms[0].type: unknown transform type 'unwrap'");
}

TEST_CASE("mode sync parses but is not supported yet") {
    CHECK(OneError(std::string(kMinimal) + "mode: sync\n") ==
          "shop.yaml:7:7: mode: mode 'sync' is not supported yet by this version; use 'cdc'");
}

TEST_CASE("a missing pipeline file is a ConfigError naming it") {
    try {
        LoadPipeline("/nonexistent/cdcctl/x.yaml");
        FAIL("LoadPipeline read a file that does not exist");
    } catch (const ConfigError &e) {
        CHECK(std::string(e.what()) ==
              "cannot read pipeline file '/nonexistent/cdcctl/x.yaml': No such file or directory");
    }
}

TEST_CASE("a directory given as the pipeline file is a ConfigError") {
    TempDir dir;
    try {
        LoadPipeline(dir.Path());
        FAIL("LoadPipeline read a directory");
    } catch (const ConfigError &e) {
        CHECK(std::string(e.what()) ==
              "cannot read pipeline file '" + dir.Path() + "': Is a directory");
    }
}

TEST_CASE("an empty file is an error") {
    CHECK(OneError("# nothing yet\n") ==
          "shop.yaml:1:1: the file is empty; a pipeline file is a mapping with at least source: "
          "and sink:");
}

TEST_CASE("a file with two YAML documents is an error") {
    CHECK(OneError(std::string(kMinimal) + "---\npipeline: b\n") ==
          "shop.yaml:8:1: the file holds 2 YAML documents; a pipeline file holds one");
}

TEST_CASE("a top level that is not a mapping is an error") {
    CHECK(OneError("- a\n- b\n") ==
          "shop.yaml:1:1: expected a mapping at the top level, got a list");
}

TEST_CASE("a pipeline name with characters outside [A-Za-z0-9_.-] is rejected") {
    CHECK(OneError(std::string(kMinimal) + "pipeline: my shop\n") ==
          "shop.yaml:7:11: pipeline: invalid value 'my shop' (use only letters, digits, '_', "
          "'.' and '-')");
}

TEST_CASE("a file name that is not a valid pipeline name needs an explicit name") {
    CHECK(OneError(kMinimal, "my shop.yaml") ==
          "my shop.yaml:1:1: pipeline: the default value 'my shop' is invalid (use only "
          "letters, digits, '_', '.' and '-'); set 'pipeline' explicitly");
}

TEST_CASE("a slot name outside [a-z0-9_]{1,63} is rejected") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "  slot: Shop-Slot\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:5:9: source.slot: invalid value 'Shop-Slot' (use 1 to 63 lowercase "
          "letters, digits and '_')");
}

TEST_CASE("a slot and publication derived from a long pipeline name must be set explicitly") {
    const std::string name(60, 'a');
    CHECK(Errors(std::string(kMinimal) + "pipeline: " + name + "\n") ==
          std::vector<std::string>{
              "shop.yaml:1:1: source.slot: the default value 'cdcctl_" + name +
                  "' is invalid (use 1 to 63 lowercase letters, digits and '_'); set 'slot' "
                  "explicitly",
              "shop.yaml:1:1: source.publication: the default value 'cdcctl_" + name +
                  "' is invalid (use at most 63 bytes); set 'publication' explicitly",
          });
}

TEST_CASE("a bad duration is rejected with the accepted forms") {
    CHECK(OneError("source:\n"
                   "  type: postgres\n"
                   "  database: shop\n"
                   "  tables: [public.product]\n"
                   "  heartbeat_interval: 10\n"
                   "sink: {type: stdout}\n") ==
          "shop.yaml:5:23: source.heartbeat_interval: invalid duration '10' (expected a whole "
          "number with a unit ms, s, m or h, such as 500ms, 10s, 5m or 1h; or 0)");
}

TEST_CASE("durations take ms, s, m and h, and 0 alone") {
    CHECK(ParseDuration("500ms") == 500ms);
    CHECK(ParseDuration("10s") == 10s);
    CHECK(ParseDuration("5m") == 5min);
    CHECK(ParseDuration("1h") == 1h);
    CHECK(ParseDuration("0") == 0ms);
    CHECK_FALSE(ParseDuration("1.5s"));
    CHECK_FALSE(ParseDuration("-1s"));
    CHECK_FALSE(ParseDuration("10"));
    CHECK_FALSE(ParseDuration("s"));
    CHECK_FALSE(ParseDuration("10 s"));
    CHECK_FALSE(ParseDuration("99999999999999999999h"));
}

TEST_CASE("durations are shown in the largest whole unit") {
    CHECK(FormatDuration(0ms) == "0");
    CHECK(FormatDuration(1500ms) == "1500ms");
    CHECK(FormatDuration(90s) == "90s");
    CHECK(FormatDuration(120min) == "2h");
}

TEST_CASE("sizes take B, KB, MB and GB in 1024s, case-insensitively, or a plain byte count") {
    CHECK(ParseSize("4096") == 4096);
    CHECK(ParseSize("100B") == 100);
    CHECK(ParseSize("512KB") == 512 * 1024);
    CHECK(ParseSize("5MB") == 5 * 1024 * 1024);
    CHECK(ParseSize("5mb") == 5 * 1024 * 1024);
    CHECK(ParseSize("5MiB") == 5 * 1024 * 1024);
    CHECK(ParseSize("1GB") == int64_t{1} << 30);
    CHECK_FALSE(ParseSize("1.5MB"));
    CHECK_FALSE(ParseSize("-1MB"));
    CHECK_FALSE(ParseSize("MB"));
    CHECK_FALSE(ParseSize("5 MB"));
    CHECK_FALSE(ParseSize("5TB"));
    CHECK_FALSE(ParseSize("99999999999999999999GB"));
}

TEST_CASE("sizes are shown in the largest whole unit") {
    CHECK(FormatSize(0) == "0");
    CHECK(FormatSize(1500) == "1500B");
    CHECK(FormatSize(5 << 20) == "5MB");
    CHECK(FormatSize(int64_t{3} << 30) == "3GB");
    CHECK(FormatSize(1536) == "1536B");
    CHECK(FormatSize(2048) == "2KB");
}

TEST_CASE("a bad size is rejected with the accepted forms") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink:\n"
                   "  type: elasticsearch\n"
                   "  url: http://localhost:9200\n"
                   "  bulk_max_bytes: 5 megabytes\n") ==
          "shop.yaml:5:19: sink.bulk_max_bytes: invalid size '5 megabytes' (expected a whole "
          "number of bytes, or one with a unit B, KB, MB or GB, such as 512KB or 5MB)");
}

TEST_CASE("a size outside its range names the range") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink:\n"
                   "  type: elasticsearch\n"
                   "  url: http://localhost:9200\n"
                   "  bulk_max_bytes: 2GB\n") ==
          "shop.yaml:5:19: sink.bulk_max_bytes: expected a size from 1KB to 1GB, got '2GB'");
}

TEST_CASE("the elasticsearch sink reads every key") {
    TempDir dir;
    setenv("CDCCTL_TEST_ES_PASSWORD", "s3cret-es-pw", 1);
    auto c = LoadPipeline(dir.Write("shop.yaml",
                                    "source: {type: postgres, database: d, tables: [a.b]}\n"
                                    "sink:\n"
                                    "  type: elasticsearch\n"
                                    "  urls: [http://a:9200, https://b:9200]\n"
                                    "  index: search-${table}\n"
                                    "  document: envelope\n"
                                    "  id: position\n"
                                    "  user: elastic\n"
                                    "  password: ${CDCCTL_TEST_ES_PASSWORD}\n"
                                    "  ca_file: /etc/ssl/es-ca.pem\n"
                                    "  on_delete: ignore\n"
                                    "  on_malformed: dead_letter\n"
                                    "  dead_letter_path: rejected.ndjson\n"
                                    "  bulk_max_bytes: 2MB\n"
                                    "  bulk_max_docs: 500\n"
                                    "  concurrency: 4\n"
                                    "  max_retries: 3\n"
                                    "  timeout: 5s\n"
                                    "  gzip: false\n"));
    unsetenv("CDCCTL_TEST_ES_PASSWORD");
    const auto &es = std::get<ElasticsearchSinkConfig>(c.sink);
    CHECK(es.Nodes() == std::vector<std::string>{"http://a:9200", "https://b:9200"});
    CHECK(es.index == "search-${table}");
    CHECK(es.document == EsDocument::kEnvelope);
    CHECK(es.id == EsIdMode::kPosition);
    CHECK(es.user == "elastic");
    CHECK(es.password.value == "s3cret-es-pw");
    CHECK(es.ca_file == "/etc/ssl/es-ca.pem");
    CHECK(es.on_delete == EsOnDelete::kIgnore);
    CHECK(es.on_malformed == EsOnMalformed::kDeadLetter);
    CHECK(es.dead_letter_path == "rejected.ndjson");
    CHECK(es.bulk_max_bytes == 2 << 20);
    CHECK(es.bulk_max_docs == 500);
    CHECK(es.concurrency == 4);
    CHECK(es.max_retries == 3);
    CHECK(es.timeout == 5s);
    CHECK_FALSE(es.gzip);
    CHECK(log::Redact("pw=s3cret-es-pw") == "pw=***");
    CHECK(DescribePipeline(c).find("s3cret-es-pw") == std::string::npos);
}

TEST_CASE("the index keeps ${topic}, ${schema} and ${table} for the sink to fill in") {
    auto c = Load("source: {type: postgres, database: d, tables: [a.b]}\n"
                  "sink: {type: elasticsearch, url: 'http://es:9200'}\n");
    CHECK(std::get<ElasticsearchSinkConfig>(c.sink).index == "${topic}");
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: elasticsearch, url: 'http://es:9200', index: 'x-${TOPIC}'}\n") ==
          "shop.yaml:2:59: sink.index: environment variable 'TOPIC' is not set");
}

TEST_CASE("an index name with uppercase letters is rejected") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: elasticsearch, url: 'http://es:9200', index: Products}\n") ==
          "shop.yaml:2:59: sink.index: invalid value 'Products' (index names are lowercase)");
}

TEST_CASE("dead_letter_path is required when on_malformed is dead_letter") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink:\n"
                   "  type: elasticsearch\n"
                   "  url: http://es:9200\n"
                   "  on_malformed: dead_letter\n") ==
          "shop.yaml:5:3: sink.dead_letter_path: required key is missing (on_malformed is "
          "'dead_letter')");
    CHECK(Errors("source: {type: postgres, database: d, tables: [a.b]}\n"
                 "sink: {type: elasticsearch, url: 'http://es:9200', on_malformed: warn}\n")
              .empty());
}

TEST_CASE("the elasticsearch sink needs url or urls, not both, and http(s) URLs") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: elasticsearch}\n") ==
          "shop.yaml:2:1: sink.url: required key is missing");
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: elasticsearch, url: 'http://a:9200', urls: ['http://b:9200']}\n") ==
          "shop.yaml:2:51: sink.urls: cannot be combined with 'url'; remove one of them");
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: elasticsearch, url: 'localhost:9200'}\n") ==
          "shop.yaml:2:34: sink.url: invalid value 'localhost:9200' (expected an http:// or "
          "https:// URL, such as http://localhost:9200)");
}

TEST_CASE("an elasticsearch URL with credentials in it is rejected without echoing them") {
    auto lines = Errors("source: {type: postgres, database: d, tables: [a.b]}\n"
                        "sink: {type: elasticsearch, url: 'https://elastic:pa/ss@es:9200'}\n");
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] ==
          "shop.yaml:2:34: sink.url: invalid value 'https://***@es:9200' (put credentials in "
          "'user' and 'password' or 'api_key', not in the URL)");
}

TEST_CASE("the parquet sink reads every key and defaults the rest") {
    auto c = Load("source: {type: postgres, database: d, tables: [a.b]}\n"
                  "sink:\n"
                  "  type: parquet\n"
                  "  path: /data/lake\n"
                  "  compression: zstd\n"
                  "  content: envelope\n"
                  "  max_rows: 5000\n"
                  "  max_bytes: 64MB\n"
                  "  max_age: 5m\n"
                  "  row_group_rows: 1000\n"
                  "  partition_by: date\n");
    const auto &pq = std::get<ParquetSinkConfig>(c.sink);
    CHECK(pq.path == "/data/lake");
    CHECK(pq.compression == ParquetCompression::kZstd);
    CHECK(pq.content == ParquetContent::kEnvelope);
    CHECK(pq.max_rows == 5000);
    CHECK(pq.max_bytes == 64 << 20);
    CHECK(pq.max_age == 5min);
    CHECK(pq.row_group_rows == 1000);
    CHECK(pq.partition_by == ParquetPartition::kDate);

    auto d = Load("source: {type: postgres, database: d, tables: [a.b]}\n"
                  "sink: {type: parquet, path: lake}\n");
    const auto &def = std::get<ParquetSinkConfig>(d.sink);
    CHECK(def.compression == ParquetCompression::kSnappy);
    CHECK(def.content == ParquetContent::kRow);
    CHECK(def.max_rows == 1000000);
    CHECK(def.row_group_rows == 128000);
    CHECK(def.partition_by == ParquetPartition::kNone);
}

TEST_CASE("the parquet sink needs a path and a known codec") {
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: parquet}\n") ==
          "shop.yaml:2:1: sink.path: required key is missing");
    CHECK(OneError("source: {type: postgres, database: d, tables: [a.b]}\n"
                   "sink: {type: parquet, path: lake, compression: lz4}\n") ==
          "shop.yaml:2:48: sink.compression: invalid value 'lz4' (expected one of: snappy, "
          "zstd, gzip, none)");
}

TEST_CASE("edit distance counts a swap of adjacent letters as one edit") {
    CHECK(EditDistance("slot", "slto") == 1);
    CHECK(EditDistance("kitten", "sitting") == 3);
    CHECK(EditDistance("", "abc") == 3);
}

TEST_CASE("the man page documents every key of every spec exactly as the specs do") {
    std::ifstream in(CDCCTL_SOURCE_DIR "/man/cdcctl-pipeline.5");
    REQUIRE(in.good());
    std::stringstream page;
    page << in.rdbuf();
    for (const ConfigSpec *spec : AllConfigSpecs()) {
        const std::string table = RenderSpecTable(*spec);
        INFO("man/cdcctl-pipeline.5 lacks this table for '", spec->Block(), " ", spec->Type(),
             "'; paste it in:\n", table);
        CHECK(page.str().find(table) != std::string::npos);
    }
}
