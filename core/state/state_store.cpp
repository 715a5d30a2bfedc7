#include "core/state/state_store.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "core/error.h"

namespace cdcctl {
namespace {

constexpr int64_t kFormat = 1;
constexpr std::string_view kChecksumPrefix = "crc32c:";
// A state file is a few hundred bytes; anything this large is some other file.
constexpr size_t kMaxFileBytes = 1 << 20;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum iSCSI and ext4 use: it
// catches every burst error up to 32 bits, which covers a torn or flipped region of a small file.
constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
        table[i] = crc;
    }
    return table;
}

uint32_t Crc32c(std::string_view data) {
    static constexpr std::array<uint32_t, 256> kTable = MakeCrc32cTable();
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char c : data) crc = (crc >> 8) ^ kTable[(crc ^ c) & 0xFF];
    return crc ^ 0xFFFFFFFFu;
}

std::string ChecksumText(std::string_view canonical) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", Crc32c(canonical));
    return std::string(kChecksumPrefix) + hex;
}

void AppendJsonString(std::string *out, std::string_view s) {
    out->push_back('"');
    for (char ch : s) {
        switch (ch) {
            case '"':
                out->append("\\\"");
                break;
            case '\\':
                out->append("\\\\");
                break;
            case '\n':
                out->append("\\n");
                break;
            case '\r':
                out->append("\\r");
                break;
            case '\t':
                out->append("\\t");
                break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char esc[7];
                    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(ch));
                    out->append(esc);
                } else {
                    out->push_back(ch);
                }
        }
    }
    out->push_back('"');
}

// The bytes the checksum covers (see state_store.h). Values come from the parsed file on load,
// so whitespace and escaping choices in the file do not matter, only the values.
std::string Canonical(const PipelineState &state, std::string_view updated_at) {
    std::string out = "{\"format\":" + std::to_string(kFormat) + ",\"pipeline\":";
    AppendJsonString(&out, state.pipeline);
    out.append(",\"source_type\":");
    AppendJsonString(&out, state.source_type);
    // Files written before the mode was recorded have none, and their checksum covers none.
    if (!state.mode.empty()) {
        out.append(",\"mode\":");
        AppendJsonString(&out, state.mode);
    }
    out.append(",\"offset\":{");
    bool first = true;
    for (const auto &[key, value] : state.offset) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(&out, key);
        out.push_back(':');
        AppendJsonString(&out, value);
    }
    out.append("},\"updated_at\":");
    AppendJsonString(&out, updated_at);
    out.push_back('}');
    return out;
}

// The file as written: the canonical fields pretty-printed, then the checksum.
std::string Render(const PipelineState &state, std::string_view updated_at) {
    std::string out = "{\n  \"format\": " + std::to_string(kFormat) + ",\n  \"pipeline\": ";
    AppendJsonString(&out, state.pipeline);
    out.append(",\n  \"source_type\": ");
    AppendJsonString(&out, state.source_type);
    if (!state.mode.empty()) {
        out.append(",\n  \"mode\": ");
        AppendJsonString(&out, state.mode);
    }
    out.append(",\n  \"offset\": {");
    bool first = true;
    for (const auto &[key, value] : state.offset) {
        out.append(first ? "\n    " : ",\n    ");
        first = false;
        AppendJsonString(&out, key);
        out.append(": ");
        AppendJsonString(&out, value);
    }
    out.append(state.offset.empty() ? "},\n  \"updated_at\": " : "\n  },\n  \"updated_at\": ");
    AppendJsonString(&out, updated_at);
    out.append(",\n  \"checksum\": ");
    AppendJsonString(&out, ChecksumText(Canonical(state, updated_at)));
    out.append("\n}\n");
    return out;
}

std::string UtcNow() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string ParentDir(const std::string &path) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? "." : parent.string();
}

// Closes the descriptor on every path out of a function, including exceptions.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    // Close now and report the error, which for a written file can be the first sign of a
    // failed write-back (NFS, quota).
    int Close() {
        int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

int FsyncDir(const std::string &dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return errno;
    if (::fsync(fd.get()) != 0) return errno;
    return 0;
}

}  // namespace

StateStore::StateStore(std::string path, std::string pipeline_file)
    : path_(std::move(path)), pipeline_file_(std::move(pipeline_file)) {}

std::string StateStore::ResetCommand() const {
    return "'cdcctl reset " + (pipeline_file_.empty() ? "<pipeline file>" : pipeline_file_) + "'";
}

void StateStore::ThrowCorrupt(const std::string &reason) const {
    throw StateError("state", "state file '" + path_ + "' is corrupt (" + reason +
                                  "); it was not written by cdcctl or was damaged. Inspect it, "
                                  "or run " +
                                  ResetCommand() + " to start over with a new snapshot.");
}

void StateStore::ThrowSystem(const std::string &action, const std::string &target,
                             int errnum) const {
    std::string message = "cannot " + action + " state file '" + path_ + "'";
    if (target != path_) message += " ('" + target + "')";
    message += ": " + std::string(std::strerror(errnum)) + ". ";
    message += (action == "open" || action == "read")
                   ? "Check that it is a file cdcctl may read."
                   : "Check that the state directory is writable and has free space.";
    throw StateError("state", message);
}

std::optional<PipelineState> StateStore::Load() {
    Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        ThrowSystem("open", path_, errno);
    }
    std::string text;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            ThrowSystem("read", path_, errno);
        }
        if (n == 0) break;
        text.append(chunk, static_cast<size_t>(n));
        if (text.size() > kMaxFileBytes) ThrowCorrupt("larger than 1 MiB");
    }
    if (text.empty()) ThrowCorrupt("empty file");

    simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    if (auto err = parser.parse(padded).get(root)) {
        std::string detail = simdjson::error_message(err);
        if (!detail.empty() && detail.back() == '.') detail.pop_back();
        ThrowCorrupt("invalid JSON, perhaps cut short: " + detail);
    }
    simdjson::dom::object object;
    if (root.get_object().get(object)) ThrowCorrupt("not a JSON object");

    // Check the format before anything else: a newer cdcctl may have changed every other field.
    int64_t format = 0;
    simdjson::dom::element format_element;
    if (object["format"].get(format_element)) ThrowCorrupt("missing field 'format'");
    if (format_element.get_int64().get(format)) ThrowCorrupt("field 'format' is not an integer");
    if (format != kFormat) {
        throw StateError("state", "state file '" + path_ + "' has format " +
                                      std::to_string(format) + ", but this cdcctl reads format " +
                                      std::to_string(kFormat) +
                                      "; it was written by another version of cdcctl. Run that "
                                      "version, or run " +
                                      ResetCommand() + " to start over with a new snapshot.");
    }

    PipelineState state;
    std::optional<std::string> pipeline, source_type, mode, updated_at, checksum;
    bool has_offset = false;
    auto read_string = [&](std::string_view key, simdjson::dom::element value,
                           std::optional<std::string> *out) {
        if (out->has_value()) ThrowCorrupt("field '" + std::string(key) + "' appears twice");
        std::string_view s;
        if (value.get_string().get(s)) {
            ThrowCorrupt("field '" + std::string(key) + "' is not a string");
        }
        *out = std::string(s);
    };
    bool seen_format = false;
    for (auto [key, value] : object) {
        if (key == "format") {
            if (seen_format) ThrowCorrupt("field 'format' appears twice");
            seen_format = true;
        } else if (key == "pipeline") {
            read_string(key, value, &pipeline);
        } else if (key == "source_type") {
            read_string(key, value, &source_type);
        } else if (key == "mode") {
            read_string(key, value, &mode);
        } else if (key == "updated_at") {
            read_string(key, value, &updated_at);
        } else if (key == "checksum") {
            read_string(key, value, &checksum);
        } else if (key == "offset") {
            if (has_offset) ThrowCorrupt("field 'offset' appears twice");
            has_offset = true;
            simdjson::dom::object offset;
            if (value.get_object().get(offset)) ThrowCorrupt("field 'offset' is not an object");
            for (auto [offset_key, offset_value] : offset) {
                std::string name(offset_key);
                std::string_view s;
                if (offset_value.get_string().get(s)) {
                    ThrowCorrupt("offset field '" + name + "' is not a string");
                }
                if (!state.offset.emplace(name, std::string(s)).second) {
                    ThrowCorrupt("offset field '" + name + "' appears twice");
                }
            }
        } else {
            ThrowCorrupt("unknown field '" + std::string(key) + "'");
        }
    }
    if (!pipeline) ThrowCorrupt("missing field 'pipeline'");
    if (!source_type) ThrowCorrupt("missing field 'source_type'");
    if (!has_offset) ThrowCorrupt("missing field 'offset'");
    if (!updated_at) ThrowCorrupt("missing field 'updated_at'");
    if (!checksum) ThrowCorrupt("missing field 'checksum'");
    state.pipeline = std::move(*pipeline);
    state.source_type = std::move(*source_type);
    if (mode) {
        if (mode->empty()) ThrowCorrupt("field 'mode' is empty");
        state.mode = std::move(*mode);
    }

    if (*checksum != ChecksumText(Canonical(state, *updated_at))) ThrowCorrupt("checksum mismatch");
    // A file from before the mode was recorded was written by a CDC run.
    if (state.mode.empty()) state.mode = "cdc";
    return state;
}

void StateStore::Save(const PipelineState &state) {
    // The file must load again: simdjson rejects invalid UTF-8, so refuse to write it.
    auto check_utf8 = [&](std::string_view what, const std::string &s) {
        if (!simdjson::validate_utf8(s.data(), s.size())) {
            throw StateError("state", "cannot write state file '" + path_ +
                                          "': " + std::string(what) + " is not valid UTF-8");
        }
    };
    check_utf8("the pipeline name", state.pipeline);
    check_utf8("the source type", state.source_type);
    check_utf8("the mode", state.mode);
    for (const auto &[key, value] : state.offset) {
        check_utf8("offset field name '" + key + "'", key);
        check_utf8("offset field '" + key + "'", value);
    }

    const std::string dir = ParentDir(path_);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) ThrowSystem("create the directory of", dir, ec.value());

    const std::string text = Render(state, UtcNow());
    const std::string tmp = path_ + ".tmp";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) ThrowSystem("write", tmp, errno);

    // From here on the temp file is ours: remove it on failure so no half-written file lingers.
    auto fail = [&](const std::string &action, int errnum) {
        ::unlink(tmp.c_str());
        ThrowSystem(action, tmp, errnum);
    };
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write", errno);
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) fail("sync", errno);
    if (fd.Close() != 0) fail("write", errno);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) fail("replace", errno);
    // The rename is only durable once the directory entry is.
    if (int err = FsyncDir(dir)) ThrowSystem("sync the directory of", dir, err);
}

void StateStore::Remove() {
    const std::string tmp = path_ + ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) ThrowSystem("remove", tmp, errno);
    if (::unlink(path_.c_str()) != 0) {
        if (errno == ENOENT) return;
        ThrowSystem("remove", path_, errno);
    }
    // Otherwise a crash could bring the old offset back.
    const std::string dir = ParentDir(path_);
    if (int err = FsyncDir(dir)) ThrowSystem("sync the directory of", dir, err);
}

}  // namespace cdcctl
