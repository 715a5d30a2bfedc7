#include "tests/servers/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char **environ;

namespace cdcctl::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrnoText(int err) { return std::strerror(err); }

// Owns one file descriptor; the harness opens many and must not leak any into later children.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { Close(); }
    Fd(Fd &&other) noexcept : fd_(other.Release()) {}
    Fd &operator=(Fd &&other) noexcept {
        if (this != &other) {
            Close();
            fd_ = other.Release();
        }
        return *this;
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int Release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void Close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_ = -1;
};

struct Pipe {
    Fd read;
    Fd write;
};

Pipe MakePipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed: " + ErrnoText(errno));
    }
    return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void SetNonBlocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw std::runtime_error("fcntl(O_NONBLOCK) failed: " + ErrnoText(errno));
    }
}

std::map<std::string, std::string> MergedEnvironment(
    const std::map<std::string, std::string> &extra_env) {
    std::map<std::string, std::string> env;
    for (char **entry = environ; entry && *entry; ++entry) {
        std::string text(*entry);
        auto eq = text.find('=');
        if (eq == std::string::npos) continue;
        env[text.substr(0, eq)] = text.substr(eq + 1);
    }
    for (const auto &[key, value] : extra_env) env[key] = value;
    return env;
}

// Resolved in the parent with the child's PATH, so that a missing program is reported as such
// instead of surfacing as a bare exit code 127.
std::string FindExecutable(const std::string &name, const std::map<std::string, std::string> &env) {
    if (name.find('/') != std::string::npos) return name;
    auto path_it = env.find("PATH");
    std::string path = path_it != env.end() ? path_it->second : "/usr/local/bin:/usr/bin:/bin";
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw std::runtime_error("cannot execute '" + name + "': not found in PATH (" + path + ")");
}

struct SpawnSpec {
    std::vector<std::string> argv;
    std::map<std::string, std::string> extra_env;
    std::string cwd;
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
};

// Tells the parent which step failed (1 stdio, 2 chdir, 3 exec) and with which errno.
[[noreturn]] void ReportChildFailure(int error_fd, int stage) {
    int payload[2] = {stage, errno};
    ssize_t ignored = ::write(error_fd, payload, sizeof(payload));
    (void)ignored;
    ::_exit(127);
}

// Child side of Spawn: only async-signal-safe calls between fork and exec.
[[noreturn]] void ExecChild(const SpawnSpec &spec, const char *path, char *const *argv,
                            char *const *envp, int error_fd, pid_t parent) {
    auto fail = [error_fd](int stage) { ReportChildFailure(error_fd, stage); };
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before prctl took effect; then nobody would ever kill us.
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);

    const int targets[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
    const int sources[3] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
    for (int i = 0; i < 3; ++i) {
        if (sources[i] == targets[i]) {
            // dup2 onto itself keeps FD_CLOEXEC, which would close it at exec.
            if (::fcntl(targets[i], F_SETFD, 0) != 0) fail(1);
        } else if (::dup2(sources[i], targets[i]) < 0) {
            fail(1);
        }
    }
    // Everything else goes, except error_fd, which is close-on-exec and tells the parent whether
    // exec worked.
    if (error_fd > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(error_fd - 1), 0u);
    ::syscall(SYS_close_range, static_cast<unsigned>(error_fd + 1), ~0u, 0u);

    // Ignored signals stay ignored across exec; a child must see SIGPIPE as a shell would give it.
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail(2);
    ::execve(path, argv, envp);
    ReportChildFailure(error_fd, 3);
}

pid_t Spawn(const SpawnSpec &spec) {
    if (spec.argv.empty()) throw std::runtime_error("cannot start a process: argv is empty");
    auto env = MergedEnvironment(spec.extra_env);
    std::string path = FindExecutable(spec.argv[0], env);

    std::vector<std::string> env_strings;
    for (const auto &[key, value] : env) env_strings.push_back(key + "=" + value);
    std::vector<char *> envp;
    for (auto &entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = spec.argv;
    std::vector<char *> argv;
    for (auto &arg : argv_copy) argv.push_back(arg.data());
    argv.push_back(nullptr);

    Pipe error_pipe = MakePipe();
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed: " + ErrnoText(errno));
    if (pid == 0) {
        ExecChild(spec, path.c_str(), argv.data(), envp.data(), error_pipe.write.get(), parent);
    }
    error_pipe.write.Close();

    int payload[2] = {0, 0};
    ssize_t got;
    do {
        got = ::read(error_pipe.read.get(), payload, sizeof(payload));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return pid;

    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string stage = payload[0] == 1   ? "redirect stdio for"
                        : payload[0] == 2 ? "change directory to '" + spec.cwd + "' for"
                                          : "execute";
    throw std::runtime_error("cannot " + stage + " '" + path + "': " + ErrnoText(payload[1]));
}

ProcessResult ResultFromStatus(int status) {
    ProcessResult result;
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    }
    return result;
}

// Reads what is available; returns false at end of file.
bool ReadAvailable(int fd, std::string &into) {
    char buffer[65536];
    while (true) {
        ssize_t got = ::read(fd, buffer, sizeof(buffer));
        if (got > 0) {
            into.append(buffer, static_cast<size_t>(got));
            continue;
        }
        if (got == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        return false;
    }
}

// Writing to a child that has stopped reading raises SIGPIPE. Block it on this thread only (the
// test process keeps its own disposition) and discard the pending signal afterwards.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
    }
    ~SigpipeGuard() {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        timespec zero{0, 0};
        while (::sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    sigset_t old_;
};

bool ContainsText(const std::string &path, const std::string &needle) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str().find(needle) != std::string::npos;
}

std::string TempRoot() {
    const char *tmpdir = std::getenv("TMPDIR");
    return tmpdir && *tmpdir ? tmpdir : "/tmp";
}

}  // namespace

std::string ProcessResult::Describe() const {
    std::string text;
    if (timed_out) {
        text = "timed out and was killed";
    } else if (term_signal != 0) {
        text = "killed by signal " + std::to_string(term_signal) + " (" +
               ::strsignal(term_signal) + ")";
    } else {
        text = "exit code " + std::to_string(exit_code);
    }
    constexpr size_t kTail = 2000;
    if (!err.empty()) {
        text += "; stderr" + std::string(err.size() > kTail ? " (tail)" : "") + ":\n" +
                (err.size() > kTail ? err.substr(err.size() - kTail) : err);
    }
    return text;
}

ProcessResult RunProcess(const std::vector<std::string> &argv,
                         const std::map<std::string, std::string> &extra_env,
                         std::chrono::milliseconds timeout, const std::string &cwd,
                         const std::string &stdin_data) {
    Pipe in = MakePipe();
    Pipe out = MakePipe();
    Pipe err = MakePipe();
    pid_t pid = Spawn(SpawnSpec{argv, extra_env, cwd, in.read.get(), out.write.get(),
                                err.write.get()});
    in.read.Close();
    out.write.Close();
    err.write.Close();
    SetNonBlocking(in.write.get());
    SetNonBlocking(out.read.get());
    SetNonBlocking(err.read.get());
    if (stdin_data.empty()) in.write.Close();

    SigpipeGuard sigpipe_guard;
    ProcessResult captured;
    size_t written = 0;
    std::optional<int> status;
    auto deadline = Clock::now() + timeout;
    bool timed_out = false;

    while (true) {
        if (!status) {
            int raw;
            pid_t done = ::waitpid(pid, &raw, WNOHANG);
            if (done == pid) status = raw;
        }
        if (status) {
            // Whatever the child wrote before exiting is in the pipes now. A grandchild that
            // still holds them open must not keep us waiting, so read only what is there.
            if (out.read.valid()) ReadAvailable(out.read.get(), captured.out);
            if (err.read.valid()) ReadAvailable(err.read.get(), captured.err);
            break;
        }
        auto now = Clock::now();
        if (now >= deadline) {
            timed_out = true;
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            int raw;
            while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
            }
            status = raw;
            if (out.read.valid()) ReadAvailable(out.read.get(), captured.out);
            if (err.read.valid()) ReadAvailable(err.read.get(), captured.err);
            break;
        }

        std::vector<pollfd> fds;
        if (out.read.valid()) fds.push_back({out.read.get(), POLLIN, 0});
        if (err.read.valid()) fds.push_back({err.read.get(), POLLIN, 0});
        if (in.write.valid()) fds.push_back({in.write.get(), POLLOUT, 0});
        // Short slices: the child's exit is noticed by waitpid above, not by a descriptor.
        auto slice = std::min<Clock::duration>(deadline - now, 20ms);
        int wait_ms = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(slice).count()) + 1;
        if (fds.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
            continue;
        }
        int ready = ::poll(fds.data(), fds.size(), wait_ms);
        if (ready < 0 && errno != EINTR) {
            throw std::runtime_error("poll failed: " + ErrnoText(errno));
        }
        for (const auto &entry : fds) {
            if (entry.revents == 0) continue;
            if (entry.fd == out.read.get()) {
                if (!ReadAvailable(entry.fd, captured.out)) out.read.Close();
            } else if (entry.fd == err.read.get()) {
                if (!ReadAvailable(entry.fd, captured.err)) err.read.Close();
            } else if (entry.fd == in.write.get()) {
                ssize_t put = ::write(entry.fd, stdin_data.data() + written,
                                      stdin_data.size() - written);
                if (put > 0) written += static_cast<size_t>(put);
                bool failed = put < 0 && errno != EAGAIN && errno != EINTR;
                // EPIPE: the child does not want the rest of its input, which is its business.
                if (failed || written == stdin_data.size()) in.write.Close();
            }
        }
    }

    ProcessResult result = ResultFromStatus(*status);
    result.timed_out = timed_out;
    result.out = std::move(captured.out);
    result.err = std::move(captured.err);
    return result;
}

ProcessResult RunShell(const std::string &cmd, const std::map<std::string, std::string> &extra_env,
                       std::chrono::milliseconds timeout, const std::string &cwd,
                       const std::string &stdin_data) {
    return RunProcess({"/bin/sh", "-c", cmd}, extra_env, timeout, cwd, stdin_data);
}

std::string ShellQuote(const std::string &word) {
    std::string quoted = "'";
    for (char c : word) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string> &argv,
                                     const std::map<std::string, std::string> &extra_env,
                                     const std::string &cwd)
    : dir_(MakeTempDir("cdcctl-proc-")),
      stdout_path_(dir_ + "/stdout"),
      stderr_path_(dir_ + "/stderr") {
    auto open_file = [](const std::string &path, int flags) {
        int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
        if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + ErrnoText(errno));
        return Fd(fd);
    };
    try {
        Fd null_in = open_file("/dev/null", O_RDONLY);
        Fd out = open_file(stdout_path_, O_WRONLY | O_CREAT | O_TRUNC);
        Fd err = open_file(stderr_path_, O_WRONLY | O_CREAT | O_TRUNC);
        pid_ = Spawn(SpawnSpec{argv, extra_env, cwd, null_in.get(), out.get(), err.get()});
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        throw;
    }
}

BackgroundProcess::~BackgroundProcess() {
    if (!Reap(false)) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        Reap(true);
    }
    if (KeepTestArtifacts()) {
        std::cerr << "kept the output of process " << pid_ << " in " << dir_ << "\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

bool BackgroundProcess::Reap(bool block) {
    if (status_) return true;
    int raw;
    pid_t done;
    do {
        done = ::waitpid(pid_, &raw, block ? 0 : WNOHANG);
    } while (done < 0 && errno == EINTR);
    if (done == pid_) {
        status_ = raw;
        return true;
    }
    if (done < 0) {
        throw std::runtime_error("waitpid(" + std::to_string(pid_) + ") failed: " +
                                 ErrnoText(errno));
    }
    return false;
}

void BackgroundProcess::Kill(int sig) {
    if (Reap(false)) return;
    if (::kill(pid_, sig) != 0) {
        throw std::runtime_error("kill(" + std::to_string(pid_) + ", " + std::to_string(sig) +
                                 ") failed: " + ErrnoText(errno));
    }
}

bool BackgroundProcess::Running() { return !Reap(false); }

ProcessResult BackgroundProcess::Wait() {
    Reap(true);
    return Result();
}

std::optional<ProcessResult> BackgroundProcess::WaitFor(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!Reap(false)) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(5ms);
    }
    return Result();
}

ProcessResult BackgroundProcess::Result() const {
    ProcessResult result = ResultFromStatus(*status_);
    result.out = ReadStdoutSoFar();
    result.err = ReadStderrSoFar();
    return result;
}

std::string BackgroundProcess::ReadStdoutSoFar() const { return ReadFile(stdout_path_); }
std::string BackgroundProcess::ReadStderrSoFar() const { return ReadFile(stderr_path_); }

bool BackgroundProcess::WaitForText(const std::string &path, const std::string &needle,
                                    std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        // Check the exit before the text: output written just before exiting still counts.
        bool ended = Reap(false);
        if (ContainsText(path, needle)) return true;
        if (ended || Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

bool BackgroundProcess::WaitForStdout(const std::string &needle,
                                      std::chrono::milliseconds timeout) {
    return WaitForText(stdout_path_, needle, timeout);
}

bool BackgroundProcess::WaitForStderr(const std::string &needle,
                                      std::chrono::milliseconds timeout) {
    return WaitForText(stderr_path_, needle, timeout);
}

std::string MakeTempDir(const std::string &prefix) {
    std::string pattern = TempRoot() + "/" + prefix + "XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("cannot create a temp dir '" + pattern + "': " + ErrnoText(errno));
    }
    return buffer.data();
}

TempDir::~TempDir() {
    if (KeepTestArtifacts()) {
        std::cerr << "kept temp dir " << path_ << "\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

bool KeepTestArtifacts() {
    const char *keep = std::getenv("CDCCTL_KEEP_TEST_SERVERS");
    return keep && std::string(keep) == "1";
}

void WriteFile(const std::string &path, const std::string &content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write '" + path + "': " + ErrnoText(errno));
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write '" + path + "': " + ErrnoText(errno));
}

std::string ReadFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read '" + path + "': " + ErrnoText(errno));
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

}  // namespace cdcctl::testing
