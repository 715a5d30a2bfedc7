// cdcctl: the command line. Parses arguments, runs one subcommand, and maps errors to the exit
// codes documented in man/cdcctl.1 (EXIT STATUS).
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/error.h"
#include "core/runtime/log.h"

using cdcctl::ExitCode;

namespace {

int Code(ExitCode c) { return static_cast<int>(c); }

bool g_json_logs = false;

// Config errors are already "file:line:col: key: message" lines: print them as they are. With
// --log-format json each becomes one error record, so that stderr stays all JSON.
int Report(const cdcctl::Error &e, ExitCode code) {
    if (dynamic_cast<const cdcctl::ConfigError *>(&e) == nullptr) {
        cdcctl::log::Error(e.Component(), e.what());
    } else if (!g_json_logs) {
        std::fprintf(stderr, "%s\n", cdcctl::log::Redact(e.what()).c_str());
    } else {
        std::string_view text = e.what();
        while (!text.empty()) {
            size_t end = text.find('\n');
            cdcctl::log::Error(e.Component(), text.substr(0, end));
            text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        }
    }
    return Code(code);
}

// A closed standard descriptor is handed to the next file opened: with stdout closed, events
// would be written into the lock or state file and confirmed. Refuse before anything is opened.
bool StandardDescriptorsOpen() {
    const char *names[] = {"standard input (fd 0)", "standard output (fd 1)", "standard error (fd 2)"};
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0) continue;
        if (::fcntl(2, F_GETFD) >= 0) {
            std::fprintf(stderr,
                         "cdcctl: %s is closed; run cdcctl with it open (redirect it from or to "
                         "/dev/null instead of closing it).\n",
                         names[fd]);
        }
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char **argv) {
    if (!StandardDescriptorsOpen()) return Code(ExitCode::kIoErr);
    CLI::App app{"cdcctl: change data capture and ETL in one binary"};
    app.set_version_flag("--version", std::string("cdcctl ") + CDCCTL_VERSION);
    // At most one; "none" is reported below. With require_subcommand(1), CLI11 would answer
    // `cdcctl frobnicate` with "A subcommand is required" instead of naming the unknown word.
    app.require_subcommand(0, 1);
    std::string log_level = "info";
    std::string log_format = "text";
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));

    std::string file;
    bool once = false;
    auto *run = app.add_subcommand("run", "run a pipeline: snapshot, then stream changes");
    run->add_option("FILE", file, "the pipeline file")->required();
    run->add_flag("--once", once, "stop with exit code 0 once caught up with the source");

    bool show_config = false;
    auto *check = app.add_subcommand("check", "check the configuration and every prerequisite");
    check->add_option("FILE", file, "the pipeline file")->required();
    check->add_flag("--show-config", show_config, "also print the effective configuration");

    auto *discover = app.add_subcommand("discover", "list the tables, columns and keys that would be captured");
    discover->add_option("FILE", file, "the pipeline file")->required();

    auto *state = app.add_subcommand("state", "print the pipeline's saved position");
    state->add_option("FILE", file, "the pipeline file")->required();

    bool drop_slot = false;
    auto *reset = app.add_subcommand("reset", "forget the saved position: the next run starts with a new snapshot");
    reset->add_option("FILE", file, "the pipeline file")->required();
    reset->add_flag("--drop-slot", drop_slot, "also drop the replication slot on the server");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : Code(ExitCode::kUsage);
    }
    if (app.get_subcommands().empty()) {
        std::fprintf(stderr, "A command is required: run, check, discover, state or reset.\n"
                             "Run with --help for more information.\n");
        return Code(ExitCode::kUsage);
    }
    cdcctl::log::Level level = cdcctl::log::Level::kInfo;
    cdcctl::log::ParseLevel(log_level, &level);
    g_json_logs = log_format == "json";
    cdcctl::log::Configure(level, g_json_logs ? cdcctl::log::Format::kJson : cdcctl::log::Format::kText);
    try {
        if (*run) return cdcctl::cli::Run(file, once);
        if (*check) return cdcctl::cli::Check(file, show_config);
        if (*discover) return cdcctl::cli::Discover(file);
        if (*state) return cdcctl::cli::State(file);
        if (*reset) return cdcctl::cli::Reset(file, drop_slot);
    } catch (const cdcctl::InterruptedError &e) {
        cdcctl::log::Info(e.Component(), e.what());
        return Code(ExitCode::kOk);
    } catch (const cdcctl::ConfigError &e) {
        return Report(e, ExitCode::kConfig);
    } catch (const cdcctl::LockError &e) {
        return Report(e, ExitCode::kTempFail);
    } catch (const cdcctl::ConnectError &e) {
        return Report(e, ExitCode::kUnavailable);
    } catch (const cdcctl::ProtocolError &e) {
        return Report(e, ExitCode::kProtocol);
    } catch (const cdcctl::SinkError &e) {
        return Report(e, ExitCode::kIoErr);
    } catch (const cdcctl::StateError &e) {
        return Report(e, ExitCode::kDataErr);
    } catch (const cdcctl::Error &e) {
        return Report(e, ExitCode::kSoftware);
    } catch (const std::exception &e) {
        cdcctl::log::Error("cdcctl", std::string("internal error: ") + e.what());
        return Code(ExitCode::kSoftware);
    }
    return Code(ExitCode::kUsage);
}
