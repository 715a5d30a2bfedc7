#include "core/state/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/error.h"

namespace cdcctl {
namespace {

[[noreturn]] void ThrowSystem(const std::string &what, const std::string &path, int errnum) {
    throw StateError("state", "cannot " + what + " lock file '" + path +
                                  "': " + std::strerror(errnum) +
                                  ". Check that the state directory is writable.");
}

// The pid the holder wrote; 0 when it is unknown (the holder has locked but not yet written).
long ReadHolderPid(int fd) {
    char buf[32] = {};
    ssize_t n;
    do {
        n = ::pread(fd, buf, sizeof buf - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    char *end = nullptr;
    long pid = std::strtol(buf, &end, 10);
    return (end != buf && pid > 0) ? pid : 0;
}

}  // namespace

RunLock RunLock::Acquire(const std::string &state_path, const std::string &pipeline) {
    std::string path = state_path + ".lock";
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec) ThrowSystem("create the directory of", path, ec.value());
    }

    // O_RDWR without O_TRUNC: the holder's pid must survive a contender's open.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) ThrowSystem("open", path, errno);

    int rc;
    do {
        rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        // Not a RunLock yet: closing must not clear the holder's pid.
        int err = errno;
        long pid = err == EWOULDBLOCK ? ReadHolderPid(fd) : 0;
        ::close(fd);
        if (err != EWOULDBLOCK) ThrowSystem("lock", path, err);
        std::string holder = pid > 0 ? "pid " + std::to_string(pid) : "another process";
        throw LockError("state", "pipeline '" + pipeline + "' is already running (" + holder +
                                     " holds '" + path + "'); wait for it to finish or stop it");
    }

    // Only for the message above; the lock itself is the flock, so a failed write is harmless
    // and a stale pid from a crashed run is overwritten here.
    std::string text = std::to_string(static_cast<long>(::getpid())) + "\n";
    if (::ftruncate(fd, 0) == 0) {
        ssize_t ignored = ::pwrite(fd, text.data(), text.size(), 0);
        (void)ignored;
    }
    return RunLock(fd, std::move(path));
}

RunLock::RunLock(RunLock &&other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

RunLock &RunLock::operator=(RunLock &&other) noexcept {
    if (this != &other) {
        Release();
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
    }
    return *this;
}

RunLock::~RunLock() {
    Release();
}

void RunLock::Release() {
    // Clear our pid first, so a contender that fails against the next holder before it has
    // written its own pid does not name us. Closing the descriptor drops the flock.
    if (fd_ >= 0) {
        int ignored = ::ftruncate(fd_, 0);
        (void)ignored;
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace cdcctl
