#include "core/runtime/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

namespace cdcctl::log {
namespace {

struct State {
    Level level = Level::kInfo;
    Format format = Format::kText;
    std::vector<std::string> secrets;
    std::mutex mu;
};

State &Global() {
    static State s;
    return s;
}

std::string_view LevelName(Level l) {
    switch (l) {
        case Level::kDebug: return "debug";
        case Level::kInfo: return "info";
        case Level::kWarn: return "warn";
        case Level::kError: return "error";
    }
    return "info";
}

void AppendJsonString(std::string &out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

std::string Timestamp() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace

void Configure(Level level, Format format) {
    std::lock_guard lock(Global().mu);
    Global().level = level;
    Global().format = format;
}

bool ParseLevel(std::string_view s, Level *out) {
    if (s == "debug") *out = Level::kDebug;
    else if (s == "info") *out = Level::kInfo;
    else if (s == "warn" || s == "warning") *out = Level::kWarn;
    else if (s == "error") *out = Level::kError;
    else return false;
    return true;
}

bool Enabled(Level level) { return level >= Global().level; }

void AddSecret(std::string_view secret) {
    if (secret.empty()) return;
    std::lock_guard lock(Global().mu);
    for (const auto &s : Global().secrets) {
        if (s == secret) return;
    }
    Global().secrets.emplace_back(secret);
}

std::string Redact(std::string_view text) {
    std::string out(text);
    std::lock_guard lock(Global().mu);
    for (const auto &secret : Global().secrets) {
        size_t pos = 0;
        while ((pos = out.find(secret, pos)) != std::string::npos) {
            out.replace(pos, secret.size(), "***");
            pos += 3;
        }
    }
    return out;
}

void Write(Level level, std::string_view component, std::string_view message) {
    if (!Enabled(level)) return;
    std::string msg = Redact(message);
    std::string line;
    if (Global().format == Format::kJson) {
        line = "{\"time\":\"" + Timestamp() + "\",\"level\":\"" + std::string(LevelName(level)) +
               "\",\"component\":";
        AppendJsonString(line, component);
        line += ",\"message\":";
        AppendJsonString(line, msg);
        line += "}\n";
    } else {
        line = Timestamp() + " " + std::string(LevelName(level)) + " [" + std::string(component) +
               "] " + msg + "\n";
    }
    std::lock_guard lock(Global().mu);
    ssize_t off = 0;
    while (off < static_cast<ssize_t>(line.size())) {
        ssize_t n = ::write(2, line.data() + off, line.size() - off);
        if (n <= 0) break;
        off += n;
    }
}

}  // namespace cdcctl::log
