#include "sinks/parquet/part_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace cdcctl {
namespace {

// Large enough that write(2) calls stay rare next to the encoding work.
constexpr size_t kBufferBytes = size_t{1} << 20;

std::string ErrnoText(int err) {
    return std::strerror(err);
}

[[noreturn]] void ThrowPath(const std::string &action, const std::string &path, int err) {
    throw SinkError("parquet",
                    action + " '" + path + "' failed: " + ErrnoText(err) +
                        ". Nothing after the last completed file was confirmed; fix the cause "
                        "and run again, and the rows after it are written again.");
}

bool EndsWith(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int RenameNoReplace(const std::string &from, const std::string &to) {
    int rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        // A file system without RENAME_NOREPLACE: check, then rename. The names carry a per-run
        // sequence and the run lock keeps a second run out, so the window does not matter.
        struct stat st {};
        if (::stat(to.c_str(), &st) == 0) {
            errno = EEXIST;
            return -1;
        }
        rc = ::rename(from.c_str(), to.c_str());
    }
    return rc;
}

}  // namespace

PartFile::PartFile(std::string dir, std::string name, const std::string &tag)
    : dir_(std::move(dir)) {
    temp_path_ = dir_ + "/." + name + "." + tag + ".tmp";
    final_path_ = dir_ + "/" + name;
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) ThrowPath("creating", temp_path_, errno);
}

PartFile::~PartFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!published_) ::unlink(temp_path_.c_str());
}

void PartFile::Fail(const std::string &action, const std::string &path, int err) {
    // Give the space back now; the rows in it were never confirmed.
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!published_) ::unlink(temp_path_.c_str());
    published_ = true;  // nothing left to clean up
    ThrowPath(action, path, err);
}

void PartFile::WriteAll(const uint8_t *p, size_t left) {
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            Fail("writing", temp_path_, errno);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
}

void PartFile::FlushBuffer() {
    WriteAll(buf_.data(), used_);
    used_ = 0;
}

void PartFile::Write(const uint8_t *data, size_t size) {
    if (fd_ < 0)
        throw SinkError("parquet",
                        "writing '" + temp_path_ + "' after it was closed (a bug in cdcctl)");
    // The buffer is allocated on the first write: a sink with many open files that each hold
    // a row group in memory does not also hold an idle buffer per file.
    if (buf_.empty()) buf_.resize(kBufferBytes);
    if (used_ + size > buf_.size()) {
        FlushBuffer();
        if (size >= buf_.size()) {  // a big page: straight through
            WriteAll(data, size);
            return;
        }
    }
    std::memcpy(buf_.data() + used_, data, size);
    used_ += size;
}

void PartFile::Publish() {
    FlushBuffer();
    int rc;
    do {
        rc = ::fdatasync(fd_);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) Fail("syncing", temp_path_, errno);
    rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0 && errno != EINTR) Fail("closing", temp_path_, errno);
    if (RenameNoReplace(temp_path_, final_path_) != 0) {
        int err = errno;
        if (err == EEXIST) {
            Fail("renaming '" + temp_path_ + "' to", final_path_, err);
        }
        Fail("renaming", temp_path_, err);
    }
    published_ = true;
    SyncDirectory(dir_);
}

void SyncDirectory(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowPath("opening directory", path, errno);
    int rc;
    do {
        rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (rc != 0) ThrowPath("syncing directory", path, err);
}

void MakeDirectories(const std::string &path) {
    struct stat st {};
    size_t slash = path.find_last_of('/');
    std::string parent =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) ThrowPath("using as a directory", path, ENOTDIR);
        SyncDirectory(parent);
        return;
    }
    if (slash != std::string::npos && slash != 0) MakeDirectories(parent);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
        ThrowPath("creating directory", path, errno);
    SyncDirectory(parent);
}

std::vector<std::string> RemoveStaleTempFiles(const std::string &dir, const std::string &tag) {
    std::vector<std::string> removed;
    std::unique_ptr<DIR, int (*)(DIR *)> d(::opendir(dir.c_str()), &::closedir);
    if (!d) return removed;
    const std::string suffix = ".parquet." + tag + ".tmp";
    while (dirent *e = ::readdir(d.get())) {
        std::string name = e->d_name;
        if (name.size() < 2 || name[0] != '.' || !EndsWith(name, suffix)) continue;
        std::string path = dir + "/" + name;
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            ThrowPath("removing stale temporary file", path, errno);
        removed.push_back(path);
    }
    if (!removed.empty()) SyncDirectory(dir);
    return removed;
}

}  // namespace cdcctl
