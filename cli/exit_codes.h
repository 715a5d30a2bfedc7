// Exit codes, from sysexits.h. Documented in man/cdcctl.1 (EXIT STATUS).
#pragma once

namespace cdcctl {

enum class ExitCode : int {
    kOk = 0,            // success; also a clean stop on SIGINT/SIGTERM or a closed stdout pipe
    kUsage = 64,        // EX_USAGE: bad command line
    kDataErr = 65,      // EX_DATAERR: state file corrupt or inconsistent with the source
    kUnavailable = 69,  // EX_UNAVAILABLE: cannot connect, or a prerequisite is missing
    kSoftware = 70,     // EX_SOFTWARE: internal error
    kIoErr = 74,        // EX_IOERR: the sink failed
    kTempFail = 75,     // EX_TEMPFAIL: another run holds the lock
    kProtocol = 76,     // EX_PROTOCOL: malformed data from a server
    kConfig = 78,       // EX_CONFIG: the pipeline file is wrong
};

}  // namespace cdcctl
