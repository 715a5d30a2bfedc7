// One run per pipeline: two runs of the same pipeline would read the same slot and overwrite each
// other's state file.
//
// The lock is an exclusive flock(2) on "<state_path>.lock", a sidecar, because the state file
// itself is replaced by rename and a lock on it would stay with the old inode. The kernel drops
// the lock when the holder exits, even on a crash or kill -9, so a stale lock cannot block the
// next run. The lock file is never deleted: deleting it would let a waiting process lock the
// unlinked inode while a newcomer locks a fresh file of the same name, and both would run.
#pragma once

#include <string>
#include <utility>

namespace cdcctl {

class RunLock {
public:
    // Take the lock without waiting, creating parent directories as needed, and record our pid
    // in the lock file. Throws LockError naming the pipeline and the holder's pid when another
    // open of the lock file holds it (another process, or another RunLock in this one), and
    // StateError when the lock file cannot be created.
    static RunLock Acquire(const std::string &state_path, const std::string &pipeline);

    RunLock(RunLock &&other) noexcept;
    RunLock &operator=(RunLock &&other) noexcept;
    RunLock(const RunLock &) = delete;
    RunLock &operator=(const RunLock &) = delete;
    ~RunLock();

    // Give up the lock now rather than at destruction.
    void Release();
    bool held() const { return fd_ >= 0; }
    // "<state_path>.lock"
    const std::string &path() const { return path_; }

private:
    RunLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

    int fd_ = -1;
    std::string path_;
};

}  // namespace cdcctl
