// Logging: stderr only (stdout carries data). Text or JSON lines. Every registered secret is
// replaced by "***" in every line, whatever the code that logged it.
#pragma once

#include <string>
#include <string_view>

namespace cdcctl::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void Configure(Level level, Format format);
bool ParseLevel(std::string_view s, Level *out);
bool Enabled(Level level);
// Register a value that must never appear in a log line (passwords, API keys, URLs with them).
void AddSecret(std::string_view secret);
// Replace every registered secret in `text`.
std::string Redact(std::string_view text);

void Write(Level level, std::string_view component, std::string_view message);
inline void Debug(std::string_view component, std::string_view message) { Write(Level::kDebug, component, message); }
inline void Info(std::string_view component, std::string_view message) { Write(Level::kInfo, component, message); }
inline void Warn(std::string_view component, std::string_view message) { Write(Level::kWarn, component, message); }
inline void Error(std::string_view component, std::string_view message) { Write(Level::kError, component, message); }

}  // namespace cdcctl::log
