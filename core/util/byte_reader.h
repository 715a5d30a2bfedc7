// A length-checked reader over one binary protocol message.
//
// Wire format: big-endian ("network byte order") fixed-width integers, NUL-terminated strings and
// length-prefixed byte runs (the length read separately by the caller), as PostgreSQL's
// replication protocol sends them; the MySQL binlog's little-endian fields are the caller's to
// add. Nothing is aligned, so loads go through memcpy. Every read checks the remaining length
// first and throws a ProtocolError that carries the component ("postgres", "mysql") and names
// the message and the field being read, so a truncated or corrupt message can never read past
// the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/util/int_math.h"

namespace cdcctl {

class ByteReader {
public:
    // `component` is the ProtocolError's component; `what` names the message for error messages,
    // e.g. "pgoutput Insert message". Both must outlive the reader (literals, typically).
    ByteReader(std::string_view data, std::string_view component, std::string_view what)
        : data_(data), component_(component), what_(what) {}

    uint8_t ReadU8(std::string_view field) {
        Require(1, field);
        return static_cast<uint8_t>(data_[pos_++]);
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

    // Throws ProtocolError(<component>, "<what>: <detail>").
    [[noreturn]] void Fail(const std::string &detail) const {
        throw ProtocolError(std::string(component_), std::string(what_) + ": " + detail);
    }

private:
    void Require(size_t n, std::string_view field) const {
        if (n > Remaining()) {
            Fail("truncated reading '" + std::string(field) + "' at byte " + std::to_string(pos_) +
                 " (needs " + std::to_string(n) + " byte(s), " + std::to_string(Remaining()) +
                 " left)");
        }
    }

    template <typename T>
    T ReadBig(std::string_view field) {
        Require(sizeof(T), field);
        T v = LoadBigEndian<T>(data_.data() + pos_);
        pos_ += sizeof(T);
        return v;
    }

    std::string_view data_;
    std::string_view component_;
    std::string_view what_;
    size_t pos_ = 0;
};

}  // namespace cdcctl
