// One function per subcommand; each returns the process exit code or throws cdcctl::Error.
#pragma once

#include <string>

namespace cdcctl::cli {

int Run(const std::string &file, bool once);
int Check(const std::string &file, bool show_config);
int Discover(const std::string &file);
int State(const std::string &file);
int Reset(const std::string &file, bool drop_slot);

}  // namespace cdcctl::cli
