#include "sinks/elasticsearch/dead_letter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "core/json/json_writer.h"

namespace cdcctl::es {
namespace {

constexpr const char *kComponent = "elasticsearch";

// The file may have just been created: its directory entry is durable only once the
// directory is synced, or a crash could lose the file with the lines fdatasync'd into it.
void SyncParentDirectory(const std::string &file) {
    std::string parent = std::filesystem::path(file).parent_path().string();
    const std::string dir = parent.empty() ? std::string(".") : parent;
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && ::fsync(fd) == 0;
    int err = errno;
    if (fd >= 0) ::close(fd);
    if (!ok) {
        throw SinkError(kComponent, "cannot sync the directory '" + dir +
                                        "' of the dead-letter file: " + std::strerror(err) +
                                        ". Check 'dead_letter_path'.");
    }
}

}  // namespace

DeadLetterFile::~DeadLetterFile() {
    if (fd_ >= 0) ::close(fd_);
}

void DeadLetterFile::Open(const std::string &path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw SinkError(kComponent, "cannot open the dead-letter file '" + path + "': " +
                                        std::strerror(errno) + ". Check 'dead_letter_path'.");
    }
    SyncParentDirectory(path);
}

void DeadLetterFile::AppendLine(std::string *out, const ItemResult &res, const std::string &body,
                                const BulkItem &item) {
    json::JsonWriter w(out);
    w.BeginObject();
    w.Key("index");
    w.String(res.index);
    w.Key("id");
    w.String(res.id);
    w.Key("status");
    w.Int(res.status);
    w.Key("error");
    w.BeginObject();
    w.Key("type");
    w.String(res.error_type);
    w.Key("reason");
    w.String(res.reason);
    w.EndObject();
    w.Key("action");
    w.Raw(std::string_view(body).substr(item.begin, item.source - item.begin - 1));
    w.Key("document");
    if (item.end > item.source)
        w.Raw(std::string_view(body).substr(item.source, item.end - item.source - 1));
    else
        w.Null();
    w.EndObject();
    out->push_back('\n');
}

bool DeadLetterFile::Write(const std::string &lines, std::string *error) {
    const char *p = lines.data();
    size_t left = lines.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            *error = "writing the dead-letter file '" + path_ + "' failed: " + std::strerror(errno);
            return false;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (::fdatasync(fd_) != 0) {
        *error = "syncing the dead-letter file '" + path_ + "' failed: " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace cdcctl::es
