// Child processes and scratch files for integration tests.
//
// Tests run the real cdcctl binary, shell pipelines and the PostgreSQL tools. Every child starts
// in its own process group with SIGPIPE and the signal mask reset to their defaults (so that
// `cdcctl run | head -n 1` behaves as it would in a terminal), inherits no descriptor beyond
// 0-2, and is killed if the test process dies first.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cdcctl::testing {

using namespace std::chrono_literals;

struct ProcessResult {
    // The exit status, or -1 when a signal ended the process.
    int exit_code = -1;
    // The signal that ended the process, or 0 when it exited.
    int term_signal = 0;
    // True when the harness killed the process because it ran past its timeout.
    bool timed_out = false;
    std::string out;
    std::string err;

    // "exit code 3", "killed by signal 9 (Killed)", "timed out and was killed", plus the tail of
    // stderr: meant for test failure messages.
    std::string Describe() const;
};

// Runs argv (argv[0] is looked up in PATH) with extra_env added to this process's environment,
// feeds stdin_data to its stdin, and captures stdout and stderr separately. A process that runs
// past timeout is killed with its whole process group and reported with timed_out. Throws
// std::runtime_error when argv[0] cannot be executed.
ProcessResult RunProcess(const std::vector<std::string> &argv,
                         const std::map<std::string, std::string> &extra_env = {},
                         std::chrono::milliseconds timeout = 120s, const std::string &cwd = "",
                         const std::string &stdin_data = "");

// Runs `/bin/sh -c cmd`, for pipelines such as "cdcctl run x.yaml | head -n 1".
ProcessResult RunShell(const std::string &cmd,
                       const std::map<std::string, std::string> &extra_env = {},
                       std::chrono::milliseconds timeout = 120s, const std::string &cwd = "",
                       const std::string &stdin_data = "");

// Quotes a word for /bin/sh: ShellQuote("it's") == "'it'\\''s'".
std::string ShellQuote(const std::string &word);

// A process that runs while the test does something else: kill -9 tests, concurrent runs, a
// streaming cdcctl. stdin is /dev/null; stdout and stderr go to files in a private temp dir, so
// nothing blocks however much the child writes. The destructor kills (SIGKILL) and reaps a child
// that is still running, and removes the temp dir.
//
// The child receives SIGKILL when the thread that started it exits (PR_SET_PDEATHSIG), so start
// it from the test's own thread, not from a short-lived helper thread.
class BackgroundProcess {
public:
    explicit BackgroundProcess(const std::vector<std::string> &argv,
                               const std::map<std::string, std::string> &extra_env = {},
                               const std::string &cwd = "");
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess &) = delete;
    BackgroundProcess &operator=(const BackgroundProcess &) = delete;

    pid_t pid() const { return pid_; }
    const std::string &stdout_path() const { return stdout_path_; }
    const std::string &stderr_path() const { return stderr_path_; }

    // Sends sig to the process itself (not its group): kill -9 tests want exactly the child.
    void Kill(int sig);
    bool Running();
    // Blocks until the process ends; returns its status and everything it wrote.
    ProcessResult Wait();
    // Waits at most timeout; std::nullopt if the process is still running then.
    std::optional<ProcessResult> WaitFor(std::chrono::milliseconds timeout);

    std::string ReadStdoutSoFar() const;
    std::string ReadStderrSoFar() const;
    // Waits until stdout (or stderr) contains needle. False when the timeout passes or the
    // process ends without having written it.
    bool WaitForStdout(const std::string &needle, std::chrono::milliseconds timeout);
    bool WaitForStderr(const std::string &needle, std::chrono::milliseconds timeout);

private:
    bool Reap(bool block);
    ProcessResult Result() const;
    bool WaitForText(const std::string &path, const std::string &needle,
                     std::chrono::milliseconds timeout);

    std::string dir_;
    std::string stdout_path_;
    std::string stderr_path_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// A fresh directory under $TMPDIR (or /tmp), mode 0700. The caller removes it.
std::string MakeTempDir(const std::string &prefix = "cdcctl-test-");

// A temp dir removed on destruction, unless CDCCTL_KEEP_TEST_SERVERS=1 (then its path is printed
// to stderr so that it can be inspected after a failure).
class TempDir {
public:
    explicit TempDir(const std::string &prefix = "cdcctl-test-") : path_(MakeTempDir(prefix)) {}
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    // path() + "/" + name
    std::string File(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// True when CDCCTL_KEEP_TEST_SERVERS=1: keep servers' data dirs and temp dirs for inspection.
bool KeepTestArtifacts();

// Whole-file helpers; both throw std::runtime_error naming the path and the OS error.
void WriteFile(const std::string &path, const std::string &content);
std::string ReadFile(const std::string &path);

}  // namespace cdcctl::testing
