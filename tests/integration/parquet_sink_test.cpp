// The Parquet sink through the real PostgreSQL source and the cdcctl binary. Every file produced is
// read back by two independent readers: DuckDB (tests/readers/sink_check.mjs, which runs any SQL,
// so that read_parquet can take union_by_name and the json extension is loaded), whose values are
// compared value by value and type by type with what PostgreSQL returns for the source table; and
// hyparquet (tests/readers/hyparquet_read.mjs), a JavaScript reader written from the Parquet spec,
// which checks that the files conform (footer, row counts, row groups, codecs, statistics,
// logical types).
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <optional>
#include <set>
#include <thread>

#include "core/state/state_store.h"
#include "tests/integration/cdc_fixture.h"

using namespace cdcctl;
using namespace cdcctl::testing;
namespace fs = std::filesystem;

namespace {

const std::string kReader = CDCCTL_SOURCE_DIR "/tests/readers/sink_check.mjs";

using Cell = std::optional<std::string>;

std::string Show(const Cell &c) {
    return c ? "'" + *c + "'" : "NULL";
}

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// A query result from DuckDB: column names and types, and every value as DuckDB's text.
struct DuckResult {
    std::vector<std::string> names;
    std::vector<std::string> types;
    std::vector<std::vector<Cell>> rows;

    std::string TypeOf(const std::string &name) const {
        for (size_t i = 0; i < names.size(); ++i) {
            if (names[i] == name) return types[i];
        }
        return "<no column " + name + ">";
    }
};

DuckResult Duck(const std::string &sql) {
    ProcessResult r = RunProcess({"node", kReader, "duckdb", sql}, {}, std::chrono::seconds(120));
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe() << "\nSQL: " << sql);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(!parser.parse(r.out).get(doc));
    DuckResult out;
    for (simdjson::dom::element c : doc["columns"].get_array()) {
        out.names.emplace_back(std::string_view(c["name"].get_string()));
        out.types.emplace_back(std::string_view(c["type"].get_string()));
    }
    for (simdjson::dom::element row : doc["rows"].get_array()) {
        std::vector<Cell> cells;
        for (simdjson::dom::element v : row.get_array()) {
            if (v.is_null())
                cells.emplace_back(std::nullopt);
            else
                cells.emplace_back(std::string(std::string_view(v.get_string())));
        }
        out.rows.push_back(std::move(cells));
    }
    return out;
}

// What hyparquet reports for one file.
struct FileReport {
    std::string file;
    int64_t num_rows = 0;
    int64_t read_rows = 0;
    std::vector<int64_t> row_group_rows;
    std::set<std::string> codecs;
    std::map<std::string, std::string> kv;
    // path -> type, repetition, logical (minified JSON), converted
    struct Column {
        std::string type, repetition, logical, converted;
        int64_t type_length = 0;
    };
    std::map<std::string, Column> columns;
    std::string rows_json;  // the rows as hyparquet_read.mjs renders them
    int64_t chunks_without_stats = 0;
};

int64_t JsonInt(simdjson::dom::element e) {  // a number, or a BIGINT as a decimal string
    int64_t v = 0;
    std::string_view text;
    if (!e.get_int64().get(v)) return v;
    if (!e.get_string().get(text)) return std::stoll(std::string(text));
    return -1;
}

std::string JsonText(simdjson::dom::element e) {
    std::string_view text;
    return e.get_string().get(text) ? std::string() : std::string(text);
}

// tests/readers/hyparquet_read.mjs over `files`: footer, schema, row groups and every row.
std::vector<FileReport> Hyparquet(const std::vector<std::string> &files) {
    std::vector<std::string> argv{"node", CDCCTL_SOURCE_DIR "/tests/readers/hyparquet_read.mjs",
                                  "--bytes-as-hex"};
    argv.insert(argv.end(), files.begin(), files.end());
    ProcessResult r = RunProcess(argv, {}, std::chrono::seconds(120));
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::vector<FileReport> out;
    simdjson::dom::parser parser;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        simdjson::dom::element doc;
        REQUIRE_MESSAGE(!parser.parse(line).get(doc), line.substr(0, 200));
        FileReport f;
        f.file = JsonText(doc["file"]);
        simdjson::dom::element meta = doc["metadata"];
        f.num_rows = JsonInt(meta["num_rows"]);
        simdjson::dom::array rows;
        if (!doc["rows"].get_array().get(rows)) f.read_rows = static_cast<int64_t>(rows.size());
        f.rows_json = simdjson::minify(doc["rows"]);
        for (auto rg : meta["row_groups"].get_array()) {
            f.row_group_rows.push_back(JsonInt(rg["num_rows"]));
            for (auto chunk : rg["columns"].get_array()) {
                f.codecs.insert(JsonText(chunk["codec"]));
                simdjson::dom::element stats;
                f.chunks_without_stats += chunk["statistics"].get(stats) || stats.is_null() ? 1 : 0;
            }
        }
        simdjson::dom::object kv;
        if (!meta["key_value_metadata"].get_object().get(kv)) {
            for (auto field : kv) f.kv[std::string(field.key)] = JsonText(field.value);
        }
        // The flattened SchemaElements, depth first; rebuild each node's dotted path.
        simdjson::dom::array schema = meta["schema"].get_array();
        std::vector<std::pair<std::string, int64_t>> open;  // (path, children left)
        bool root = true;
        for (auto el : schema) {
            int64_t children = 0;
            if (el["num_children"].get_int64().get(children)) children = 0;  // null for a leaf
            if (root) {
                open.push_back({"", children});
                root = false;
                continue;
            }
            while (!open.empty() && open.back().second == 0) open.pop_back();
            REQUIRE_FALSE(open.empty());
            --open.back().second;
            std::string path =
                (open.back().first.empty() ? "" : open.back().first + ".") + JsonText(el["name"]);
            FileReport::Column col;
            col.type = JsonText(el["type"]);
            col.repetition = JsonText(el["repetition_type"]);
            col.converted = JsonText(el["converted_type"]);
            if (el["type_length"].get_int64().get(col.type_length)) col.type_length = 0;
            col.logical = simdjson::minify(el["logical_type"]);
            f.columns[path] = col;
            if (children > 0) open.push_back({path, children});
        }
        out.push_back(std::move(f));
    }
    REQUIRE(out.size() == files.size());
    return out;
}

// The completed Parquet files under `dir`, in name order per folder (which is write order).
std::vector<std::string> ParquetFiles(const std::string &dir) {
    std::vector<std::string> files;
    if (!fs::exists(dir)) return files;
    for (const auto &e : fs::recursive_directory_iterator(dir)) {
        std::string name = e.path().filename().string();
        if (e.is_regular_file() && name[0] != '.' && name.size() > 8 &&
            name.substr(name.size() - 8) == ".parquet") {
            files.push_back(e.path().string());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::string> TempFiles(const std::string &dir) {
    std::vector<std::string> files;
    if (!fs::exists(dir)) return files;
    for (const auto &e : fs::recursive_directory_iterator(dir)) {
        std::string name = e.path().filename().string();
        if (name[0] == '.' && Contains(name, ".tmp")) files.push_back(e.path().string());
    }
    return files;
}

std::string SqlList(const std::vector<std::string> &files) {
    std::string s = "[";
    for (size_t i = 0; i < files.size(); ++i) s += (i ? ",'" : "'") + files[i] + "'";
    return s + "]";
}

// read_parquet over exactly these files (by name, so columns added later line up).
std::string ReadParquet(const std::vector<std::string> &files) {
    return "read_parquet(" + SqlList(files) + ", union_by_name = true)";
}

std::string SinkYaml(const std::string &path, const std::string &extra = "") {
    return "sink:\n  type: parquet\n  path: " + path + "\n" + extra;
}

// Rows of a PostgreSQL query as text.
std::vector<std::vector<Cell>> PgRows(CdcFixture &f, const std::string &sql) {
    QueryRows rows = f.pg->Query(sql, f.db);
    std::vector<std::vector<Cell>> out;
    for (auto &r : rows) out.emplace_back(r.begin(), r.end());
    return out;
}

void CompareRows(const std::vector<std::vector<Cell>> &expected,
                 const std::vector<std::vector<Cell>> &actual,
                 const std::vector<std::string> &names) {
    REQUIRE(actual.size() == expected.size());
    for (size_t r = 0; r < expected.size(); ++r) {
        REQUIRE(actual[r].size() == expected[r].size());
        for (size_t c = 0; c < expected[r].size(); ++c) {
            CHECK_MESSAGE(actual[r][c] == expected[r][c],
                          "row " << r << " column '" << names[c] << "': parquet "
                                 << Show(actual[r][c]) << ", postgres " << Show(expected[r][c]));
        }
    }
}

// Every file is read completely by hyparquet, and its counts agree with its footer and DuckDB.
std::vector<FileReport> CheckConformance(const std::vector<std::string> &files) {
    REQUIRE_FALSE(files.empty());
    std::vector<FileReport> reports = Hyparquet(files);
    for (const FileReport &r : reports) {
        CHECK_MESSAGE(r.read_rows == r.num_rows, r.file);
        int64_t sum = 0;
        for (int64_t n : r.row_group_rows) sum += n;
        CHECK_MESSAGE(sum == r.num_rows, r.file);
        DuckResult d = Duck("SELECT count(*)::VARCHAR FROM read_parquet('" + r.file + "')");
        CHECK_MESSAGE(d.rows.at(0).at(0) == std::to_string(r.num_rows), r.file);
        CHECK(r.kv.count("cdcctl.topic") == 1);
        CHECK_MESSAGE(r.chunks_without_stats == 0, r.file);
    }
    return reports;
}

std::string ConfirmedLsn(const std::string &state_path) {
    StateStore store(state_path);
    auto state = store.Load();
    if (!state || !state->offset.count("lsn")) return "0/0";
    return state->offset.at("lsn");
}

// The commit LSN (end of the commit record, the position cdcctl confirms at) of the transaction
// that inserted each product id, read from a test_decoding slot created before the inserts: an
// oracle independent of cdcctl. A row's own _position lies before its commit and can lie before a
// confirmed position taken from a keepalive while its transaction was still open, so "confirmed"
// is only comparable with commit LSNs.
class CommitProbe {
public:
    explicit CommitProbe(CdcFixture &f) : f_(f) {
        f_.Sql("SELECT pg_create_logical_replication_slot('commit_probe', 'test_decoding')");
    }
    ~CommitProbe() {
        try {
            f_.Sql("SELECT pg_drop_replication_slot('commit_probe')");
        } catch (...) {
        }
    }
    std::map<std::string, uint64_t> CommitsById() {
        // A transaction's commit row comes last in its group: its LSN is the group's largest.
        std::string all = f_.Value(
            "SELECT COALESCE(string_agg(substring(data FROM 'id\\[integer\\]:([0-9]+)') || '=' "
            "|| commit_lsn::text, ','), '') FROM (SELECT data, max(lsn) OVER (PARTITION BY xid::text) "
            "AS commit_lsn FROM pg_logical_slot_peek_changes('commit_probe', NULL, NULL)) c "
            "WHERE data LIKE 'table public.product: INSERT:%'");
        std::map<std::string, uint64_t> out;
        std::istringstream in(all);
        std::string item;
        while (std::getline(in, item, ',')) {
            size_t eq = item.find('=');
            REQUIRE_MESSAGE(eq != std::string::npos, item);
            out[item.substr(0, eq)] = Lsn(item.substr(eq + 1));
        }
        return out;
    }

private:
    CdcFixture &f_;
};

// One column of the all-types table: its PostgreSQL type, how to render it as text on both sides,
// and the DuckDB type its Parquet type must read as (the mapping documented in row_layout.h).
struct TypedColumn {
    std::string name, pg_type, pg_text, duck_text, duck_type;
};

const std::vector<TypedColumn> kTypedColumns = {
    {"i2", "smallint", "i2::text", "i2::VARCHAR", "SMALLINT"},
    {"i4", "integer", "i4::text", "i4::VARCHAR", "INTEGER"},
    {"i8", "bigint", "i8::text", "i8::VARCHAR", "BIGINT"},
    {"b", "boolean", "b::text", "b::VARCHAR", "BOOLEAN"},
    {"f4", "real", "f4::text",
     "CASE WHEN isnan(f4) THEN 'NaN' WHEN isinf(f4) AND f4 > 0 THEN 'Infinity' WHEN isinf(f4) THEN "
     "'-Infinity' "
     "ELSE f4::VARCHAR END",
     "FLOAT"},
    {"f8", "double precision", "f8::text",
     "CASE WHEN isnan(f8) THEN 'NaN' WHEN isinf(f8) AND f8 > 0 THEN 'Infinity' WHEN isinf(f8) THEN "
     "'-Infinity' "
     "ELSE f8::VARCHAR END",
     "DOUBLE"},
    {"n", "numeric(10,2)", "n::text", "n::VARCHAR", "DECIMAL(10,2)"},
    {"nbig", "numeric(30,5)", "nbig::text", "nbig::VARCHAR", "DECIMAL(30,5)"},
    // VariableScaleDecimal: exact text, trailing zeros trimmed as Debezium does; NaN has no
    // decimal value and is null.
    {"nvar", "numeric", "CASE WHEN nvar = 'NaN' THEN NULL ELSE trim_scale(nvar)::text END", "nvar",
     "VARCHAR"},
    {"t", "text NOT NULL", "t", "t", "VARCHAR"},
    {"vc", "varchar(20)", "vc::text", "vc", "VARCHAR"},
    {"d", "date", "d::text", "d::VARCHAR", "DATE"},
    {"tm", "time", "tm::text", "tm::VARCHAR", "TIME"},
    {"tm3", "time(3)", "tm3::text", "tm3::VARCHAR", "TIME"},
    {"ts", "timestamp", "ts::text", "ts::VARCHAR", "TIMESTAMP"},
    {"ts3", "timestamp(3)", "ts3::text", "ts3::VARCHAR", "TIMESTAMP"},
    {"tstz", "timestamptz", "(tstz AT TIME ZONE 'UTC')::text || '+00'", "tstz::VARCHAR",
     "TIMESTAMP WITH TIME ZONE"},
    {"u", "uuid", "u::text", "u::VARCHAR", "UUID"},
    {"j", "jsonb", "j::text", "j::VARCHAR", "JSON"},
    {"e", "mood", "e::text", "e", "VARCHAR"},
    {"bin", "bytea", "encode(bin, 'hex')", "lower(hex(bin))", "BLOB"},
    {"ai", "integer[]", "ai::text",
     "'{' || array_to_string(list_transform(ai, lambda x: coalesce(x::VARCHAR, 'NULL')), ',') || "
     "'}'",
     "INTEGER[]"},
    {"atext", "text[]", "atext::text",
     "'{' || array_to_string(list_transform(atext, lambda x: coalesce(x, 'NULL')), ',') || '}'",
     "VARCHAR[]"},
    // A two-dimensional array: flattened in row-major order, as unnest() reads it.
    {"grid", "integer[]",
     "CASE WHEN grid IS NULL THEN NULL ELSE coalesce((SELECT array_agg(x) FROM unnest(grid) "
     "x)::text, '{}') END",
     "'{' || array_to_string(list_transform(grid, lambda x: coalesce(x::VARCHAR, 'NULL')), ',') || "
     "'}'",
     "INTEGER[]"},
    {"iv", "interval", "(extract(epoch FROM iv) * 1000000)::bigint::text", "iv::VARCHAR", "BIGINT"},
};

// Three rows: ordinary values, extremes (NaN, infinities, negatives, empty values, dates before
// 1970), and nulls everywhere a column allows them.
const char *kTypedRows = R"SQL(
  (1, 1, 100000, 9000000000, true, 3.14, 2.718281828459045, 24.90, 12345678901234567890.12345,
   1234567890.0001000, 'kettle', 'ümlaut ✓', '2026-01-15', '13:45:30.123456', '13:45:30.123',
   '2026-01-15 10:11:12.123456', '2026-01-15 10:11:12.123', '2026-01-15 10:11:12.654321+02',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2], "b": "x"}', 'happy', '\xdeadbeef',
   '{1,2,NULL}', '{a,b}', '{{1,2},{3,NULL}}', '1 day 02:03:04.5'),
  (2, -32768, -2147483648, -9223372036854775808, false, 'NaN', 'Infinity', -0.50,
   -1234567890123456789012345.12345, 'NaN', '', 'x', '1969-07-20', '00:00:00', '23:59:59.999',
   '1900-01-01 00:00:00', '1970-01-01 00:00:00.001', '1969-12-31 23:59:59.999999+00',
   '00000000-0000-0000-0000-000000000000', '[]', 'sad', '\x', '{}', '{}', '{}', '-3 hours'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'nulls', NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
)SQL";

void CreateTypedTable(CdcFixture &f) {
    f.Sql("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
    std::string sql = "CREATE TABLE alltypes (id bigint PRIMARY KEY";
    for (const auto &c : kTypedColumns) sql += ", " + c.name + " " + c.pg_type;
    f.Sql(sql + ")");
}

std::string ColumnList(bool pg) {
    std::string s = "id::" + std::string(pg ? "text" : "VARCHAR");
    for (const auto &c : kTypedColumns) s += ", " + (pg ? c.pg_text : c.duck_text);
    return s;
}

std::vector<std::string> TypedNames() {
    std::vector<std::string> names{"id"};
    for (const auto &c : kTypedColumns) names.push_back(c.name);
    return names;
}

}  // namespace

TEST_CASE(
    "every column type, from the snapshot and the stream, reads back value by value and type by "
    "type") {
    CdcFixture f;
    CreateTypedTable(f);
    f.Sql(std::string("INSERT INTO alltypes VALUES ") + kTypedRows);
    std::string lake = f.dir.File("lake");
    std::string file =
        f.WritePipeline("types", "[public.alltypes]", "  time_precision_mode: adaptive\n",
                        SinkYaml(lake, "  row_group_rows: 2\n"));
    ProcessResult snap = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(snap.exit_code == 0, snap.Describe());
    CHECK(snap.out.empty());  // the events went to files, not stdout
    std::vector<std::string> snap_files = ParquetFiles(lake);
    REQUIRE(snap_files.size() == 1);
    CHECK(fs::path(snap_files[0]).parent_path().filename() == "foo.public.alltypes");

    // The same rows again through the stream (pgoutput's text, not COPY's), ids 4..6.
    f.Sql("INSERT INTO alltypes SELECT id + 3, " +
          std::string(
              "i2, i4, i8, b, f4, f8, n, nbig, nvar, t, vc, d, tm, "
              "tm3, ts, ts3, tstz, u, j, e, bin, ai, atext, grid, iv FROM alltypes ORDER BY id"));
    ProcessResult stream = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(stream.exit_code == 0, stream.Describe());
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 2);
    CHECK(files[0] == snap_files[0]);  // names sort in write order

    // Values: every column, every row, as text on both sides.
    auto expected = PgRows(f, "SELECT " + ColumnList(true) + " FROM alltypes ORDER BY alltypes.id");
    DuckResult actual = Duck("SELECT " + ColumnList(false) + " FROM " + ReadParquet(files) +
                             " ORDER BY id::BIGINT");
    CompareRows(expected, actual.rows, TypedNames());

    // Types: what DuckDB makes of each column's Parquet type (typeof also names aliases: JSON).
    std::string typeof_sql = "SELECT typeof(id)";
    for (const auto &c : kTypedColumns) typeof_sql += ", typeof(" + c.name + ")";
    typeof_sql += ", typeof(_op), typeof(_ts_ms), typeof(_position), typeof(_snapshot) FROM " +
                  ReadParquet(files) + " LIMIT 1";
    DuckResult types = Duck(typeof_sql);
    REQUIRE(types.rows.size() == 1);
    const auto &t = types.rows[0];
    CHECK(t[0] == Cell("BIGINT"));
    for (size_t i = 0; i < kTypedColumns.size(); ++i) {
        CHECK_MESSAGE(t[i + 1] == Cell(kTypedColumns[i].duck_type), kTypedColumns[i].name);
    }
    size_t m = kTypedColumns.size() + 1;
    CHECK(t[m] == Cell("VARCHAR"));
    CHECK(t[m + 1] == Cell("BIGINT"));
    CHECK(t[m + 2] == Cell("VARCHAR"));
    CHECK(t[m + 3] == Cell("VARCHAR"));

    // Metadata columns: snapshot reads, then creates with increasing positions that PostgreSQL
    // parses as LSNs no later than now.
    DuckResult meta = Duck("SELECT id::VARCHAR, _op, _snapshot, _position, _ts_ms::VARCHAR FROM " +
                           ReadParquet(files) + " ORDER BY id");
    REQUIRE(meta.rows.size() == 6);
    std::string previous = "";
    for (size_t i = 0; i < 6; ++i) {
        const auto &row = meta.rows[i];
        CHECK(*row[1] == (i < 3 ? "r" : "c"));
        if (i >= 3) {
            CHECK(*row[2] == "false");
            REQUIRE(row[3].has_value());
            CHECK(f.Value("SELECT '" + *row[3] + "'::pg_lsn <= pg_current_wal_lsn()") == "t");
            CHECK(*row[3] > previous);  // sortable as text
            previous = *row[3];
        } else {
            CHECK(std::set<std::string>{"first", "true", "last"}.count(*row[2]) == 1);
        }
        CHECK(std::stoll(*row[4]) > 1700000000000LL);
    }

    // The second reader: every file conforms, and the logical types are the documented ones.
    auto reports = CheckConformance(files);
    CHECK(reports[0].row_group_rows.size() == 2);  // row_group_rows: 2 for 3 rows
    const auto &cols = reports[1].columns;
    CHECK(cols.at("n").type == "INT64");
    CHECK(Contains(cols.at("n").logical, R"("type":"DECIMAL")"));
    CHECK(Contains(cols.at("n").logical, R"("precision":10)"));
    CHECK(cols.at("nbig").type == "FIXED_LEN_BYTE_ARRAY");
    CHECK(Contains(cols.at("tstz").logical, R"("isAdjustedToUTC":true)"));
    CHECK(Contains(cols.at("ts").logical, R"("isAdjustedToUTC":false)"));
    CHECK(Contains(cols.at("ts").logical, R"("unit":"MICROS")"));
    CHECK(Contains(cols.at("ts3").logical, R"("unit":"MILLIS")"));
    CHECK(Contains(cols.at("tm").logical, R"("type":"TIME")"));
    CHECK(Contains(cols.at("tm3").logical, R"("unit":"MILLIS")"));
    CHECK(Contains(cols.at("d").logical, R"("type":"DATE")"));
    CHECK(cols.at("u").type == "FIXED_LEN_BYTE_ARRAY");
    CHECK(cols.at("u").type_length == 16);
    CHECK(Contains(cols.at("u").logical, R"("type":"UUID")"));
    CHECK(Contains(cols.at("j").logical, R"("type":"JSON")"));
    CHECK(Contains(cols.at("e").logical, R"("type":"STRING")"));
    CHECK(cols.at("bin").logical == "null");
    CHECK(cols.at("ai.list.element").type == "INT32");
    CHECK(cols.at("ai").converted == "LIST");
    CHECK(cols.at("_op").repetition == "REQUIRED");
    CHECK(cols.at("t").repetition ==
          "OPTIONAL");  // row content: deletes leave non-key columns null
    // hyparquet's values agree with DuckDB's for the columns JSON renders exactly.
    CHECK(Contains(reports[1].rows_json, R"("t":"kettle")"));
    CHECK(Contains(reports[1].rows_json, R"("vc":"ümlaut ✓")"));
    CHECK(Contains(reports[1].rows_json, R"("u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")"));
    CHECK(Contains(reports[1].rows_json, R"("bin":"0xdeadbeef")"));
    CHECK(Contains(reports[1].rows_json, R"("nvar":"1234567890.0001")"));
}

TEST_CASE("updates, deletes and truncates as rows; unchanged TOAST values; envelope content") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text NOT NULL, doc text, meta jsonb)");
    f.Sql("ALTER TABLE product ALTER COLUMN doc SET STORAGE EXTERNAL");
    f.Sql("ALTER TABLE product ALTER COLUMN meta SET STORAGE EXTERNAL");
    f.Sql(
        "INSERT INTO product VALUES (1, 'kettle', repeat('x', 10000), (SELECT jsonb_agg(g) FROM "
        "generate_series(1, "
        "3000) g)), (2, 'teapot', 'short', '{}'), (3, 'mug', NULL, NULL)");
    std::string row_lake = f.dir.File("rows"), env_lake = f.dir.File("envelopes");
    std::string rows = f.WritePipeline("rows", "[public.product]", "", SinkYaml(row_lake));
    std::string envs = f.WritePipeline("envs", "[public.product]", "",
                                       SinkYaml(env_lake, "  content: envelope\n"));
    f.RunOnce(rows);
    f.RunOnce(envs);
    f.Sql("UPDATE product SET name = 'kettle2' WHERE id = 1");  // doc is TOASTed and unchanged
    f.Sql("DELETE FROM product WHERE id = 2");
    f.Sql("TRUNCATE product");
    f.RunOnce(rows);
    f.RunOnce(envs);

    std::vector<std::string> row_files = ParquetFiles(row_lake);
    CheckConformance(row_files);
    DuckResult r =
        Duck("SELECT _op, id::VARCHAR, name, doc, json_array_length(meta)::VARCHAR FROM " +
             ReadParquet(row_files) + " ORDER BY _op = 'r' DESC, _position, id");
    REQUIRE(r.rows.size() == 6);
    // Unchanged TOASTed values: Debezium's placeholder in a text column; null in a JSON column,
    // where the placeholder would not be JSON.
    CHECK(r.rows[3] ==
          std::vector<Cell>{"u", "1", "kettle2", "__debezium_unavailable_value", std::nullopt});
    CHECK(r.rows[4] ==
          std::vector<Cell>{"d", "2", std::nullopt, std::nullopt, std::nullopt});  // the key only
    CHECK(r.rows[5] ==
          std::vector<Cell>{"t", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    CHECK(r.rows[0][4] == Cell("3000"));
    // The snapshot rows are the table as it was.
    CHECK(r.rows[0][2] == Cell("kettle"));
    CHECK(r.rows[0][3] == Cell(std::string(10000, 'x')));

    std::vector<std::string> env_files = ParquetFiles(env_lake);
    auto reports = CheckConformance(env_files);
    CHECK(reports[0].columns.at("after.name").repetition == "REQUIRED");  // NOT NULL text
    CHECK(reports[0].columns.at("before.name").repetition == "OPTIONAL");
    CHECK(reports[0].columns.at("source.lsn").type == "INT64");
    DuckResult e = Duck(
        "SELECT op, before.id::VARCHAR, after.id::VARCHAR, after.name, after.doc, "
        "source.\"table\", source.db, source.name, source.snapshot, (source.lsn IS NOT "
        "NULL)::VARCHAR, "
        "(source.txId IS NOT NULL)::VARCHAR FROM " +
        ReadParquet(env_files) + " ORDER BY op = 'r' DESC, source.lsn, after.id");
    REQUIRE(e.rows.size() == 6);
    CHECK(e.rows[0][0] == Cell("r"));
    CHECK(e.rows[0][5] == Cell("product"));
    CHECK(e.rows[0][6] == Cell("shop"));
    CHECK(e.rows[0][7] == Cell("foo"));
    CHECK(e.rows[3] == std::vector<Cell>{"u", std::nullopt, "1", "kettle2",
                                         "__debezium_unavailable_value", "product", "shop", "foo",
                                         "false", "true", "true"});
    CHECK(e.rows[4][0] == Cell("d"));
    CHECK(e.rows[4][1] == Cell("2"));
    CHECK(e.rows[4][2] == std::nullopt);  // after is null
    CHECK(e.rows[5][0] == Cell("t"));
    CHECK(e.rows[5][1] == std::nullopt);
    CHECK(e.rows[5][2] == std::nullopt);
    // Both contents carry the same positions for the same changes.
    DuckResult pos = Duck("SELECT count(*)::VARCHAR FROM " + ReadParquet(row_files) + " r JOIN " +
                          ReadParquet(env_files) +
                          " e ON r._op = e.op AND r._op <> 'r' AND "
                          "(r._position::VARCHAR) = printf('%08X/%08X', e.source.lsn >> 32, "
                          "e.source.lsn & 4294967295)");
    CHECK(pos.rows[0][0] == Cell("3"));
}

TEST_CASE("envelope content: an unchanged TOASTed NOT NULL numeric as double is null, not a stop") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, third numeric NOT NULL)");
    f.Sql("ALTER TABLE product ALTER COLUMN third SET STORAGE EXTERNAL");
    // 8000 digits, about 4 KB: stored out of line.
    f.Sql("INSERT INTO product VALUES (1, 'a', ('0.' || repeat('7', 8000))::numeric)");
    std::string lake = f.dir.File("lake");
    std::string file = f.WritePipeline("toastnum", "[public.product]",
                                       "  decimal_handling_mode: double\n",
                                       SinkYaml(lake, "  content: envelope\n"));
    f.RunOnce(file);
    f.Sql("UPDATE product SET name = 'b' WHERE id = 1");  // third is TOASTed and unchanged
    ProcessResult r = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    std::vector<std::string> files = ParquetFiles(lake);
    auto reports = CheckConformance(files);
    CHECK(reports[0].columns.at("after.third").repetition == "OPTIONAL");
    DuckResult d = Duck("SELECT op, after.name, round(after.third, 6)::VARCHAR FROM " +
                        ReadParquet(files) + " ORDER BY op = 'r' DESC");
    CHECK(d.rows == std::vector<std::vector<Cell>>{{"r", "a", "0.777778"},
                                                   {"u", "b", std::nullopt}});
}

TEST_CASE("each codec writes files both readers decompress") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text, price numeric(10,2))");
    f.Sql("INSERT INTO product SELECT g, md5(g::text), g / 100.0 FROM generate_series(1, 2000) g");
    for (const std::string codec : {"snappy", "zstd", "gzip", "none"}) {
        CAPTURE(codec);
        std::string lake = f.dir.File("lake-" + codec);
        std::string file = f.WritePipeline(
            "codec_" + codec, "[public.product]", "",
            SinkYaml(lake, "  compression: " + codec + "\n  row_group_rows: 500\n"));
        f.RunOnce(file);
        std::vector<std::string> files = ParquetFiles(lake);
        auto reports = CheckConformance(files);
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].codecs == std::set<std::string>{codec == "none"   ? "UNCOMPRESSED"
                                                         : codec == "zstd" ? "ZSTD"
                                                         : codec == "gzip" ? "GZIP"
                                                                           : "SNAPPY"});
        CHECK(reports[0].row_group_rows.size() == 4);
        auto expected =
            PgRows(f, "SELECT id::text, name, price::text FROM product ORDER BY product.id");
        DuckResult actual = Duck("SELECT id::VARCHAR, name, price::VARCHAR FROM " +
                                 ReadParquet(files) + " ORDER BY id::BIGINT");
        CompareRows(expected, actual.rows, {"id", "name", "price"});
    }
}

TEST_CASE("files roll over at max_rows and max_bytes; names sort in write order") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    f.Sql("INSERT INTO product SELECT g, md5(g::text) FROM generate_series(1, 35) g");
    std::string lake = f.dir.File("byrows");
    f.RunOnce(
        f.WritePipeline("byrows", "[public.product]", "", SinkYaml(lake, "  max_rows: 10\n")));
    std::vector<std::string> files = ParquetFiles(lake);
    auto reports = CheckConformance(files);
    std::vector<int64_t> counts;
    for (const auto &r : reports) counts.push_back(r.num_rows);
    CHECK(counts == std::vector<int64_t>{10, 10, 10, 5});
    // In name order, the files hold the snapshot's rows in the order they were read.
    std::string sql;
    for (size_t i = 0; i < files.size(); ++i) {
        sql += (i ? " UNION ALL " : "") + std::string("SELECT ") + std::to_string(i) +
               " AS f, min(id) AS lo, max(id) AS hi FROM read_parquet('" + files[i] + "')";
    }
    DuckResult ranges = Duck(
        "SELECT (bool_and(lo > prev_hi) OR count(prev_hi) = 0)::VARCHAR FROM (SELECT lo, "
        "lag(hi) OVER (ORDER BY f) AS prev_hi FROM (" +
        sql + "))");
    CHECK(ranges.rows[0][0] == Cell("true"));

    // max_bytes, streamed in many transactions: several files, no row lost or repeated.
    f.Sql("CREATE TABLE wide (id int PRIMARY KEY, a text, b text)");
    std::string blake = f.dir.File("bybytes");
    std::string bfile = f.WritePipeline(
        "bybytes", "[public.wide]", "",
        SinkYaml(blake, "  max_bytes: 8KiB\n  compression: none\n  row_group_rows: 50\n"));
    f.RunOnce(bfile);
    f.Sql(
        "DO $$ BEGIN FOR i IN 1..20 LOOP INSERT INTO wide SELECT g, md5(g::text), md5((g * "
        "7)::text) "
        "FROM generate_series((i - 1) * 50 + 1, i * 50) g; COMMIT; END LOOP; END $$");
    f.RunOnce(bfile);
    std::vector<std::string> bfiles = ParquetFiles(blake);
    CheckConformance(bfiles);
    CHECK(bfiles.size() >= 5);  // about 70 KB of values in files of about 8 KiB
    DuckResult all = Duck(
        "SELECT count(*)::VARCHAR, count(DISTINCT id)::VARCHAR, min(id)::VARCHAR, max(id)::VARCHAR "
        "FROM " +
        ReadParquet(bfiles));
    CHECK(all.rows[0] == std::vector<Cell>{"1000", "1000", "1", "1000"});
}

TEST_CASE("max_age completes a file on a quiet stream, and its positions get confirmed") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string lake = f.dir.File("lake");
    std::string file =
        f.WritePipeline("aged", "[public.product]", "", SinkYaml(lake, "  max_age: 2s\n"));
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    f.Sql("INSERT INTO product VALUES (1, 'a'), (2, 'b')");
    std::string lsn_after_insert = f.Value("SELECT pg_current_wal_lsn()::text");
    // The stream goes quiet; the file is completed by age, and then the slot moves past the insert.
    bool confirmed = false;
    for (int i = 0; i < 300 && !confirmed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        confirmed =
            ParquetFiles(lake).size() == 1 &&
            f.Value("SELECT confirmed_flush_lsn >= '" + lsn_after_insert +
                    "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdcctl_aged'") == "t";
    }
    CHECK(run->Running());
    CHECK_MESSAGE(confirmed, run->ReadStderrSoFar());
    run->Kill(SIGTERM);
    ProcessResult done = run->Wait();
    CHECK_MESSAGE(done.exit_code == 0, done.Describe());
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 1);  // nothing more arrived, so the stop added no file
    DuckResult d = Duck("SELECT id::VARCHAR, name FROM " + ReadParquet(files) + " ORDER BY id");
    CHECK(d.rows == std::vector<std::vector<Cell>>{{"1", "a"}, {"2", "b"}});
}

TEST_CASE("a column type change after the snapshot, in the same run, starts a new file") {
    // The snapshot's schema and the stream's first schema of a table are separate objects with
    // the same version and column count: a scale change must still not be written into the
    // snapshot's open file under the old DECIMAL(12,2).
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, price numeric(12,2))");
    f.Sql("INSERT INTO product VALUES (1, 10.25)");
    std::string lake = f.dir.File("lake");
    std::string file = f.WritePipeline("retype", "[public.product]", "", SinkYaml(lake));
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    f.Sql("ALTER TABLE product ALTER COLUMN price TYPE numeric(12,4)");
    f.Sql("INSERT INTO product VALUES (2, 1.2345)");
    std::string lsn = f.Value("SELECT pg_current_wal_lsn()::text");
    bool sent = false;
    for (int i = 0; i < 300 && !sent; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        sent = f.Value("SELECT coalesce(bool_or(sent_lsn >= '" + lsn +
                       "'::pg_lsn), false) FROM pg_stat_replication") == "t";
    }
    REQUIRE_MESSAGE(sent, run->ReadStderrSoFar());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run->Kill(SIGTERM);
    ProcessResult done = run->Wait();
    REQUIRE_MESSAGE(done.exit_code == 0, done.Describe());
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 2);
    CheckConformance(files);
    DuckResult first = Duck("SELECT typeof(price) AS t, price::VARCHAR FROM read_parquet('" +
                            files[0] + "')");
    DuckResult second = Duck("SELECT typeof(price) AS t, price::VARCHAR FROM read_parquet('" +
                             files[1] + "')");
    CHECK(first.rows == std::vector<std::vector<Cell>>{{"DECIMAL(12,2)", "10.25"}});
    CHECK(second.rows == std::vector<std::vector<Cell>>{{"DECIMAL(12,4)", "1.2345"}});
}

TEST_CASE("table names become safe folder names, and other pipelines' temporary files stay") {
    CdcFixture f;
    f.Sql("CREATE TABLE \"odd/../name\" (id int PRIMARY KEY)");
    f.Sql("INSERT INTO \"odd/../name\" VALUES (1)");
    std::string lake = f.dir.File("lake");
    fs::create_directories(lake + "/foo.public.odd_.._name");
    std::string other = lake + "/foo.public.odd_.._name/.x.parquet.otherpipe.tmp";
    WriteFile(other, "in progress");
    std::string file = f.WritePipeline("odd", "[\"public.odd*\"]", "", SinkYaml(lake));
    f.RunOnce(file);
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 1);
    CHECK(fs::path(files[0]).parent_path() == fs::path(lake + "/foo.public.odd_.._name"));
    CHECK(fs::exists(other));
    CHECK_FALSE(fs::exists(lake + "/name"));
}

TEST_CASE("ALTER TABLE ADD COLUMN mid-stream starts a new file with the new column") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string lake = f.dir.File("lake");
    std::string file = f.WritePipeline("alter", "[public.product]", "", SinkYaml(lake));
    f.RunOnce(file);
    f.Sql("INSERT INTO product VALUES (1, 'a'), (2, 'b')");
    f.Sql("ALTER TABLE product ADD COLUMN color text DEFAULT 'red'");
    f.Sql("INSERT INTO product VALUES (3, 'c', 'blue')");
    f.Sql("UPDATE product SET name = 'a2' WHERE id = 1");
    f.RunOnce(file);
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 2);
    CheckConformance(files);
    DuckResult before = Duck("SELECT * FROM read_parquet('" + files[0] + "') LIMIT 0");
    DuckResult after = Duck("SELECT * FROM read_parquet('" + files[1] + "') LIMIT 0");
    CHECK(std::count(before.names.begin(), before.names.end(), "color") == 0);
    CHECK(std::count(after.names.begin(), after.names.end(), "color") == 1);
    DuckResult rows = Duck("SELECT _op, id::VARCHAR, name, color FROM " + ReadParquet(files) +
                           " ORDER BY _position");
    CHECK(rows.rows == std::vector<std::vector<Cell>>{{"c", "1", "a", std::nullopt},
                                                      {"c", "2", "b", std::nullopt},
                                                      {"c", "3", "c", "blue"},
                                                      {"u", "1", "a2", "red"}});
}

TEST_CASE("a column named like a metadata column stops row content with exit 78; envelope works") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, _position text)");
    f.Sql("INSERT INTO product VALUES (1, 'shelf 4')");
    std::string lake = f.dir.File("lake");
    std::string rows = f.WritePipeline("clash", "[public.product]", "", SinkYaml(lake));
    ProcessResult r = f.Cdcctl({"run", "--once", rows});
    CHECK_MESSAGE(r.exit_code == 78, r.Describe());
    CHECK_MESSAGE(Contains(r.err, "table 'public.product' has a column named '_position'"), r.err);
    CHECK_MESSAGE(Contains(r.err, "content: envelope"), r.err);
    CHECK(ParquetFiles(lake).empty());
    CHECK(TempFiles(lake).empty());

    std::string env_lake = f.dir.File("env");
    std::string envelope = f.WritePipeline("noclash", "[public.product]", "",
                                           SinkYaml(env_lake, "  content: envelope\n"));
    f.RunOnce(envelope);
    std::vector<std::string> files = ParquetFiles(env_lake);
    REQUIRE(files.size() == 1);
    CheckConformance(files);
    DuckResult d = Duck("SELECT after.id::VARCHAR, after._position FROM " + ReadParquet(files));
    CHECK(d.rows == std::vector<std::vector<Cell>>{{"1", "shelf 4"}});
}

TEST_CASE("partition_by date writes Hive-style dt= folders from the source time in UTC") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string lake = f.dir.File("lake");
    std::string file =
        f.WritePipeline("dated", "[public.product]", "", SinkYaml(lake, "  partition_by: date\n"));
    f.RunOnce(file);
    std::string day_before = f.Value("SELECT (now() AT TIME ZONE 'UTC')::date::text");
    f.Sql("INSERT INTO product VALUES (1, 'a'), (2, 'b')");
    std::string day_after = f.Value("SELECT (clock_timestamp() AT TIME ZONE 'UTC')::date::text");
    f.RunOnce(file);
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE(files.size() == 1);
    std::string folder = fs::path(files[0]).parent_path().filename().string();
    CHECK((folder == "dt=" + day_before || folder == "dt=" + day_after));
    CHECK(fs::path(files[0]).parent_path().parent_path().filename() == "foo.public.product");
    CheckConformance(files);
    // DuckDB's Hive partitioning reads the folder back as a column.
    DuckResult d = Duck("SELECT id::VARCHAR, dt::VARCHAR FROM read_parquet('" + lake +
                        "/*/*/*.parquet', hive_partitioning = true) ORDER BY id");
    REQUIRE(d.rows.size() == 2);
    CHECK(d.rows[0][1] == Cell(folder.substr(3)));
}

TEST_CASE(
    "kill -9 mid-file leaves no partial final file; the restart converges without losing a row") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    std::string lake = f.dir.File("lake");
    std::string file = f.WritePipeline("crash", "[public.product]", "",
                                       SinkYaml(lake, "  max_rows: 100\n  max_age: 0s\n"));
    CommitProbe probe(f);
    auto run = f.Start({"run", file});
    REQUIRE_MESSAGE(run->WaitForStderr("Streaming from slot", std::chrono::seconds(60)),
                    run->ReadStderrSoFar());
    f.Sql(
        "DO $$ BEGIN FOR i IN 1..250 LOOP INSERT INTO product VALUES (i, md5(i::text)); COMMIT; "
        "END LOOP; END $$");
    // Two files complete at 100 and 200 rows; the third stays open (no age limit).
    bool ready = false;
    for (int i = 0; i < 300 && !ready; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ready = ParquetFiles(lake).size() == 2 && TempFiles(lake).size() == 1;
    }
    REQUIRE_MESSAGE(ready, run->ReadStderrSoFar());
    // Longer than the state save interval (1 s): the run has saved its state while the third
    // file was open, and must not have confirmed any of that file's rows.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    run->Kill(SIGKILL);
    run->Wait();
    std::vector<std::string> files = ParquetFiles(lake);
    CHECK(files.size() == 2);
    CHECK(TempFiles(lake).size() == 1);  // the partial file never got a final name
    CheckConformance(files);             // and what has one is complete
    std::string confirmed = ConfirmedLsn(f.dir.File(".cdcctl/crash.state"));

    ProcessResult again = f.Cdcctl({"run", "--once", file});
    REQUIRE_MESSAGE(again.exit_code == 0, again.Describe());
    CHECK_MESSAGE(Contains(again.err, "an earlier run did not complete"), again.err);
    CHECK(TempFiles(lake).empty());
    files = ParquetFiles(lake);
    CheckConformance(files);
    DuckResult all =
        Duck("SELECT count(DISTINCT id)::VARCHAR, min(id)::VARCHAR, max(id)::VARCHAR FROM " +
             ReadParquet(files));
    CHECK(all.rows[0] == std::vector<Cell>{"250", "1", "250"});
    // A row written twice was not confirmed the first time: its transaction committed after the
    // state's position.
    uint64_t confirmed_lsn = Lsn(confirmed);
    std::map<std::string, uint64_t> commits = probe.CommitsById();
    REQUIRE(commits.size() == 250);
    DuckResult dups = Duck("SELECT id::VARCHAR FROM " + ReadParquet(files) +
                           " GROUP BY id HAVING count(*) > 1");
    for (const auto &row : dups.rows) {
        REQUIRE(commits.count(*row[0]));
        CHECK_MESSAGE(commits[*row[0]] > confirmed_lsn,
                      "id " << *row[0] << " committed at " << FormatLsn(commits[*row[0]])
                            << ", confirmed " << confirmed << ", and still written twice");
    }
}

namespace {

// A 2 MB tmpfs at `dir` while it lives (root only); or nothing, when mount is not allowed here.
class SmallDisk {
public:
    explicit SmallDisk(const std::string &dir) : dir_(dir) {
        fs::create_directories(dir);
        mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=2m") == 0;
        if (!mounted_) error_ = std::strerror(errno);
    }
    ~SmallDisk() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    const std::string &error() const { return error_; }
    // Frees space as an operator would: a bigger disk, same files.
    bool Grow() { return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, "size=64m") == 0; }

private:
    std::string dir_;
    bool mounted_ = false;
    std::string error_;
};

}  // namespace

TEST_CASE(
    "disk full: exit 74 naming the file, nothing confirmed past complete files, the next run "
    "converges") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, a text, b text)");
    std::string lake = f.dir.File("lake");
    SmallDisk disk(lake);
    std::string file = f.WritePipeline(
        "full", "[public.product]", "",
        SinkYaml(lake, "  compression: none\n  max_rows: 3000\n  row_group_rows: 1000\n"));
    f.RunOnce(file);  // the slot exists before the rows are written
    CommitProbe probe(f);
    f.Sql(
        "DO $$ BEGIN FOR i IN 1..40 LOOP INSERT INTO product SELECT g, md5(g::text), "
        "md5((-g)::text) "
        "FROM generate_series((i - 1) * 1000 + 1, i * 1000) g; COMMIT; END LOOP; END $$");
    // About 3 MB of values for a 2 MB disk. Without tmpfs (not root), an injected failure: a
    // file size limit (RLIMIT_FSIZE) makes write(2) fail with EFBIG the same way.
    ProcessResult full;
    if (disk.mounted()) {
        MESSAGE("disk full on a 2 MB tmpfs");
        full = f.Cdcctl({"run", "--once", file});
    } else {
        MESSAGE("tmpfs not available (" << disk.error() << "): injecting EFBIG with ulimit -f");
        full = RunShell("trap '' XFSZ; ulimit -f 1024; exec " + ShellQuote(CDCCTL_BINARY) +
                            " run --once " + ShellQuote(file),
                        f.Env(), std::chrono::seconds(120), f.dir.path());
    }
    CHECK_MESSAGE(full.exit_code == 74, full.Describe());
    CHECK_MESSAGE(Contains(full.err, disk.mounted() ? "No space left on device" : "File too large"),
                  full.err);
    CHECK_MESSAGE(Contains(full.err, lake + "/foo.public.product/."),
                  full.err);         // the file it was writing
    CHECK(TempFiles(lake).empty());  // the partial file is gone, its space given back
    std::vector<std::string> files = ParquetFiles(lake);
    REQUIRE_FALSE(files.empty());
    CheckConformance(files);
    std::string confirmed = ConfirmedLsn(f.dir.File(".cdcctl/full.state"));
    std::set<std::string> before(files.begin(), files.end());

    if (disk.mounted()) REQUIRE(disk.Grow());
    ProcessResult again =
        disk.mounted() ? f.Cdcctl({"run", "--once", file})
                       : RunShell(ShellQuote(CDCCTL_BINARY) + " run --once " + ShellQuote(file),
                                  f.Env(), std::chrono::seconds(120), f.dir.path());
    REQUIRE_MESSAGE(again.exit_code == 0, again.Describe());
    files = ParquetFiles(lake);
    CheckConformance(files);
    DuckResult all =
        Duck("SELECT count(DISTINCT id)::VARCHAR, min(id)::VARCHAR, max(id)::VARCHAR FROM " +
             ReadParquet(files));
    CHECK(all.rows[0] == std::vector<Cell>{"40000", "1", "40000"});
    // Nothing was confirmed past the complete files: what the second run wrote (the rows of the
    // failed file, and any it repeats) all comes after the confirmed position.
    std::vector<std::string> added;
    for (const auto &p : files) {
        if (!before.count(p)) added.push_back(p);
    }
    REQUIRE_FALSE(added.empty());
    uint64_t confirmed_lsn = Lsn(confirmed);
    std::map<std::string, uint64_t> commits = probe.CommitsById();
    REQUIRE(commits.size() == 40000);
    DuckResult written = Duck("SELECT DISTINCT id::VARCHAR FROM " + ReadParquet(added));
    REQUIRE_FALSE(written.rows.empty());
    size_t early = 0;
    std::string example;
    for (const auto &row : written.rows) {
        REQUIRE(commits.count(*row[0]));
        if (commits[*row[0]] <= confirmed_lsn) {
            ++early;
            example = *row[0];
        }
    }
    CHECK_MESSAGE(early == 0, early << " rows rewritten though their transactions were confirmed ("
                                    << confirmed << "), e.g. id " << example);
}

TEST_CASE("cdcctl check: the path must be a directory that exists or can be created") {
    CdcFixture f;
    f.Sql("CREATE TABLE product (id int PRIMARY KEY, name text)");
    auto parquet_line = [](const std::string &out) {
        std::istringstream in(out);
        std::string line;
        while (std::getline(in, line)) {
            if (Contains(line, "  parquet path: ")) return line;
        }
        return std::string();
    };
    std::string ok =
        f.WritePipeline("okpath", "[public.product]", "", SinkYaml(f.dir.File("new/lake")));
    ProcessResult r = f.Cdcctl({"check", ok});
    CHECK_MESSAGE(r.exit_code == 0, r.Describe() << r.out);
    CHECK_MESSAGE(parquet_line(r.out).rfind("PASS", 0) == 0, r.out);
    CHECK(!fs::exists(f.dir.File("new")));  // check creates nothing

    WriteFile(f.dir.File("plain"), "not a directory");
    std::string bad =
        f.WritePipeline("badpath", "[public.product]", "", SinkYaml(f.dir.File("plain/lake")));
    r = f.Cdcctl({"check", bad});
    CHECK_MESSAGE(r.exit_code == 69, r.Describe() << r.out);
    std::string line = parquet_line(r.out);
    CHECK_MESSAGE(line.rfind("FAIL", 0) == 0, r.out);
    CHECK_MESSAGE(Contains(line, "plain"), line);
    // And the run itself says the same, as a sink error.
    ProcessResult run = f.Cdcctl({"run", "--once", bad});
    CHECK_MESSAGE(run.exit_code == 74, run.Describe());
    CHECK_MESSAGE(Contains(run.err, f.dir.File("plain")), run.err);
}

TEST_CASE("pipelines/lake.yaml runs as shipped, with the connection from PG* variables") {
    CdcFixture f;
    std::map<std::string, std::string> env = f.PgEnv();
    std::string file = f.ShippedPipeline("lake.yaml", env);
    ProcessResult r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env,
                                 std::chrono::seconds(60), f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    f.Sql("UPDATE product SET price = 22.00 WHERE id = 1");
    r = RunProcess({CDCCTL_BINARY, "run", "--once", file}, env, std::chrono::seconds(60),
                   f.dir.path());
    REQUIRE_MESSAGE(r.exit_code == 0, r.Describe());
    // path: lake is relative to the pipeline file's folder.
    std::vector<std::string> files = ParquetFiles(f.dir.File("lake"));
    REQUIRE(files.size() == 2);
    auto reports = CheckConformance(files);
    CHECK(reports[0].codecs == std::set<std::string>{"ZSTD"});
    DuckResult d = Duck("SELECT _op, id::VARCHAR, name, price::VARCHAR FROM " + ReadParquet(files) +
                        " ORDER BY _op = 'r' DESC, id");
    CHECK(d.rows == std::vector<std::vector<Cell>>{{"r", "1", "kettle", "24.90"},
                                                   {"r", "2", "teapot", "18.50"},
                                                   {"u", "1", "kettle", "22.00"}});
}
