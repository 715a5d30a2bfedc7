#include "sources/postgres/postgres_config.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>

#include "core/util/handle.h"

namespace cdcctl {
namespace {

// PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes; a silently truncated slot or
// publication name would not be the one the user asked for.
constexpr size_t kMaxIdentifierBytes = 63;

std::string CheckSlotName(std::string_view name) {
    bool ok = !name.empty() && name.size() <= kMaxIdentifierBytes &&
              std::all_of(name.begin(), name.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
              });
    return ok ? "" : "use 1 to 63 lowercase letters, digits and '_'";
}

std::string CheckPublicationName(std::string_view name) {
    return name.size() <= kMaxIdentifierBytes ? "" : "use at most 63 bytes";
}

std::string CheckTopicPrefix(std::string_view prefix) {
    bool ok = std::all_of(prefix.begin(), prefix.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    });
    return ok ? "" : "use only letters, digits, '_', '.' and '-'";
}

std::string CheckTablePattern(std::string_view pattern) {
    size_t dot = pattern.find('.');
    bool ok = dot != std::string_view::npos && dot > 0 && dot + 1 < pattern.size() &&
              pattern.find('.', dot + 1) == std::string_view::npos;
    return ok ? "" : "expected schema.table, such as public.product or public.*";
}

// The slot and publication defaults derive from the pipeline name, which may hold characters
// a slot name cannot.
std::string SlotSafe(const std::string &pipeline) {
    std::string out = "cdcctl_";
    for (char c : pipeline) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out;
}

using Conninfo = Handle<PQconninfoOption, PQconninfoFree>;

// libpq's own parser decides what a valid URI or key=value string is. Its error text may quote
// part of the string, which may be the password, so it is not passed on.
Conninfo ParseConninfo(const std::string &url) {
    char *err = nullptr;
    Conninfo opts(PQconninfoParse(url.c_str(), &err));
    Handle<char, PQfreemem> discarded(err);
    return opts;
}

std::string CheckUrl(std::string_view url) {
    return ParseConninfo(std::string(url))
               ? ""
               : "not a PostgreSQL connection URI or key=value string; check its quoting and "
                 "percent-encoding";
}

std::vector<std::string> UrlPassword(const std::string &url) {
    Conninfo opts = ParseConninfo(url);
    if (!opts) return {};
    for (PQconninfoOption *o = opts.get(); o->keyword; ++o) {
        if (std::string_view(o->keyword) == "password" && o->val) return {o->val};
    }
    return {};
}

}  // namespace

const StructSpec<PostgresSourceConfig> &PostgresSourceSpec() {
    static const StructSpec<PostgresSourceConfig> spec = [] {
        using C = PostgresSourceConfig;
        StructSpec<C> s("source", "postgres",
                        "Streams changes from PostgreSQL 10 or later through logical "
                        "replication with the built-in pgoutput plugin.");
        s.String("host", &C::host,
                 "Host name or address of the server, or a directory holding its Unix-domain "
                 "socket, as libpq takes it.")
            .NonEmpty();
        s.Integer("port", &C::port, 1, 65535, "TCP port of the server.");
        s.String("user", &C::user, "Role to connect as; it needs the REPLICATION attribute.")
            .DefaultDoc("the operating system user");
        s.SecretString("password", &C::password,
                       "Password of user; usually written as ${PGPASSWORD}. Redacted in logs "
                       "and in cdcctl check.");
        s.String("database", &C::database, "Database to capture.").RequiredUnless("url").NonEmpty();
        s.StringList("tables", &C::tables,
                     "Tables to capture, each schema.table; * matches any run of characters "
                     "and ? one character, as in public.*.")
            .Required()
            .NonEmpty()
            .Check(CheckTablePattern);
        s.StringList("exclude_tables", &C::exclude_tables,
                     "Tables matched by tables that are nevertheless not captured, in the same "
                     "form.")
            .Check(CheckTablePattern);
        s.String("topic_prefix", &C::topic_prefix,
                 "First part of every event's topic: <topic_prefix>.<schema>.<table>.")
            .NonEmpty()
            .Check(CheckTopicPrefix)
            .DefaultFrom("the pipeline name",
                         [](const ConfigContext &ctx) { return ctx.pipeline; });
        s.Enum("snapshot", &C::snapshot,
               {{"initial", SnapshotMode::kInitial},
                {"never", SnapshotMode::kNever},
                {"initial_only", SnapshotMode::kInitialOnly},
                {"always", SnapshotMode::kAlways}},
               "initial copies the existing rows on the first run, then streams; never only "
               "streams; initial_only copies and stops; always copies on every start.");
        s.String("slot", &C::slot,
                 "Logical replication slot; created on the first run if it does not exist.")
            .Check(CheckSlotName)
            .DefaultFrom("cdcctl_<pipeline>, lowercased, other characters as _",
                         [](const ConfigContext &ctx) { return SlotSafe(ctx.pipeline); });
        s.String("publication", &C::publication,
                 "Publication naming the captured tables; created on the first run if it does "
                 "not exist.")
            .NonEmpty()
            .Check(CheckPublicationName)
            .DefaultFrom("cdcctl_<pipeline>, lowercased, other characters as _",
                         [](const ConfigContext &ctx) { return SlotSafe(ctx.pipeline); });
        s.Enum("time_precision_mode", &C::time_precision_mode,
               {{"adaptive", TimePrecisionMode::kAdaptive},
                {"adaptive_time_microseconds", TimePrecisionMode::kAdaptiveTimeMicroseconds},
                {"connect", TimePrecisionMode::kConnect}},
               "How time and timestamp columns are represented, as Debezium's "
               "time.precision.mode.");
        s.Enum("decimal_handling_mode", &C::decimal_handling_mode,
               {{"precise", DecimalHandlingMode::kPrecise},
                {"double", DecimalHandlingMode::kDouble},
                {"string", DecimalHandlingMode::kString}},
               "How numeric and decimal columns are represented, as Debezium's "
               "decimal.handling.mode.");
        s.Duration("heartbeat_interval", &C::heartbeat_interval,
                   "How often to confirm the slot position while no captured table changes, so "
                   "that the server can recycle WAL; 0 disables.");
        s.Enum<std::string>("sslmode", &C::sslmode,
                            {{"disable", "disable"},
                             {"allow", "allow"},
                             {"prefer", "prefer"},
                             {"require", "require"},
                             {"verify-ca", "verify-ca"},
                             {"verify-full", "verify-full"}},
                            "TLS use, as libpq's sslmode.");
        s.String("sslrootcert", &C::sslrootcert,
                 "File of the certificate authorities that sign the server's certificate, as "
                 "libpq's sslrootcert; sslmode verify-ca or verify-full checks the server "
                 "against it. A relative path is relative to the working directory.")
            .DefaultDoc("libpq's default, ~/.postgresql/root.crt");
        s.SecretString("url", &C::url,
                       "A libpq connection URI (postgresql://user@host:port/db) or key=value "
                       "string used instead of host, port, user and database. Redacted in logs "
                       "and in cdcctl check, since it may hold a password.")
            .ConflictsWith({"host", "port", "user", "database"})
            .Check(CheckUrl)
            .SecretParts(UrlPassword);
        return s;
    }();
    return spec;
}

}  // namespace cdcctl
