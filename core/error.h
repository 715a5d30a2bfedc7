// The error hierarchy. Setup and fatal problems are exceptions derived from cdcctl::Error;
// cli/ catches them once and maps them to the exit codes in cli/exit_codes.h.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace cdcctl {

class Error : public std::runtime_error {
public:
    Error(std::string component, const std::string &message)
        : std::runtime_error(message), component_(std::move(component)) {}
    // The part of cdcctl that failed: "config", "postgres", "stdout", "state", ...
    const std::string &Component() const { return component_; }

private:
    std::string component_;
};

// The pipeline file or the command line is wrong (EX_CONFIG).
class ConfigError : public Error {
    using Error::Error;
};
// A server could not be reached or refused us, or a prerequisite is missing (EX_UNAVAILABLE).
class ConnectError : public Error {
    using Error::Error;
};
// A peer sent bytes we cannot decode (EX_PROTOCOL).
class ProtocolError : public Error {
    using Error::Error;
};
// The sink could not durably accept data (EX_IOERR).
class SinkError : public Error {
    using Error::Error;
};
// The state file is unreadable, corrupt or disagrees with the source (EX_DATAERR).
class StateError : public Error {
    using Error::Error;
};
// Another run of the same pipeline holds the lock (EX_TEMPFAIL).
class LockError : public Error {
    using Error::Error;
};

// A stop was requested (SIGINT/SIGTERM) while waiting on a server: a clean stop, exit 0.
class InterruptedError : public Error {
    using Error::Error;
};

}  // namespace cdcctl
