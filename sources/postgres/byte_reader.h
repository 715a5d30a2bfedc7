// A length-checked reader over one message from a PostgreSQL server.
//
// Wire format: everything PostgreSQL sends in its replication protocol is big-endian ("network
// byte order") fixed-width integers (Int8/Int16/Int32/Int64), NUL-terminated strings ("String")
// and length-prefixed byte runs ("Byten", the length read separately by the caller). Nothing is
// aligned, so loads go through memcpy. Every read checks the remaining length first and throws a
// ProtocolError (component "postgres") that names the message and the field being read, so a
// truncated or corrupt message can never read past the buffer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace cdcctl {

class ByteReader {
public:
    // `what` names the message for error messages, e.g. "pgoutput Insert message".
    ByteReader(std::string_view data, std::string_view what) : data_(data), what_(what) {}

    uint8_t ReadU8(std::string_view field) {
        uint8_t v;
        Load(&v, sizeof v, field);
        return v;
    }
    int16_t ReadI16(std::string_view field) {
        return static_cast<int16_t>(ReadBig<uint16_t>(field));
    }
    uint32_t ReadU32(std::string_view field) { return ReadBig<uint32_t>(field); }
    int32_t ReadI32(std::string_view field) {
        return static_cast<int32_t>(ReadBig<uint32_t>(field));
    }
    uint64_t ReadU64(std::string_view field) { return ReadBig<uint64_t>(field); }
    int64_t ReadI64(std::string_view field) {
        return static_cast<int64_t>(ReadBig<uint64_t>(field));
    }

    // A NUL-terminated string; the view excludes the NUL and points into the buffer.
    std::string_view ReadCString(std::string_view field) {
        size_t nul = data_.find('\0', pos_);
        if (nul == std::string_view::npos) {
            Fail("string '" + std::string(field) + "' at byte " + std::to_string(pos_) +
                 " has no terminating NUL");
        }
        std::string_view s = data_.substr(pos_, nul - pos_);
        pos_ = nul + 1;
        return s;
    }

    // `n` bytes as a view into the buffer.
    std::string_view ReadBytes(size_t n, std::string_view field) {
        Require(n, field);
        std::string_view s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }

    size_t Remaining() const { return data_.size() - pos_; }
    bool AtEnd() const { return pos_ == data_.size(); }
    size_t Offset() const { return pos_; }

    // A message has a fixed shape; bytes left over mean we misread it or the peer speaks a
    // protocol version we did not ask for, and either way the fields we decoded cannot be trusted.
    void ExpectEnd() const {
        if (!AtEnd()) {
            Fail(std::to_string(Remaining()) + " unexpected trailing byte(s) after byte " +
                 std::to_string(pos_));
        }
    }

    // Throws ProtocolError("postgres", "<what>: <detail>").
    [[noreturn]] void Fail(const std::string &detail) const {
        throw ProtocolError("postgres", std::string(what_) + ": " + detail);
    }

private:
    void Require(size_t n, std::string_view field) const {
        if (n > Remaining()) {
            Fail("truncated reading '" + std::string(field) + "' at byte " + std::to_string(pos_) +
                 " (needs " + std::to_string(n) + " byte(s), " + std::to_string(Remaining()) +
                 " left)");
        }
    }

    void Load(void *out, size_t n, std::string_view field) {
        Require(n, field);
        std::memcpy(out, data_.data() + pos_, n);
        pos_ += n;
    }

    template <typename T>
    T ReadBig(std::string_view field) {
        T v;
        Load(&v, sizeof v, field);
        if constexpr (std::endian::native == std::endian::little) {
            if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
            if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
            if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
        }
        return v;
    }

    std::string_view data_;
    std::string_view what_;
    size_t pos_ = 0;
};

}  // namespace cdcctl
