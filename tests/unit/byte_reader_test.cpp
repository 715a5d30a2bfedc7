// The length-checked reader every binary protocol decoder reads its messages through.
#include "core/util/byte_reader.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

using namespace cdcctl;

namespace {

// The ProtocolError a read throws, as "<component>|<message>", or a marker when there is none.
template <typename Read>
std::string ErrorOf(Read read) {
    try {
        read();
    } catch (const ProtocolError &e) {
        return e.Component() + "|" + e.what();
    }
    return "<no ProtocolError>";
}

}  // namespace

TEST_CASE("ByteReader reads big-endian integers at any alignment") {
    // 0xAA, type 0x01, int16 -2, uint32 0xDEADBEEF, int64 -3
    std::string bytes("\xAA\x01\xFF\xFE\xDE\xAD\xBE\xEF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFD", 16);
    ByteReader r(bytes, "postgres", "test message");
    CHECK(r.ReadU8("pad") == 0xAA);
    CHECK(r.ReadU8("type") == 0x01);
    CHECK(r.ReadI16("a") == -2);
    CHECK(r.ReadU32("b") == 0xDEADBEEF);
    CHECK(r.ReadI64("c") == -3);
    CHECK(r.AtEnd());
}

TEST_CASE("ByteReader reads the extremes of every width") {
    std::string bytes("\x80\x00\x7F\xFF\xFF\xFF\x80\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 18);
    ByteReader r(bytes, "postgres", "test message");
    CHECK(r.ReadI16("a") == INT16_MIN);
    CHECK(r.ReadI32("b") == INT32_MAX);
    CHECK(r.ReadI32("c") == INT32_MIN);
    CHECK(r.ReadU64("d") == UINT64_MAX);
    CHECK(r.AtEnd());
}

TEST_CASE("ByteReader strings and byte runs are views into the buffer") {
    std::string bytes = std::string("ab\0cde", 6);
    ByteReader r(bytes, "postgres", "test message");
    std::string_view s = r.ReadCString("s");
    CHECK(s == "ab");
    CHECK(s.data() == bytes.data());
    CHECK(r.ReadBytes(2, "b") == "cd");
    CHECK(r.Remaining() == 1);
    CHECK(r.Offset() == 5);
}

TEST_CASE("ByteReader names the message, the field and the offset when a read runs past the end") {
    std::string bytes("\x01\x02\x03", 3);
    ByteReader r(bytes, "postgres", "test message");
    r.ReadU8("first");
    try {
        r.ReadU32("length");
        FAIL("no ProtocolError");
    } catch (const ProtocolError &e) {
        CHECK(e.Component() == "postgres");
        CHECK(std::string(e.what()) ==
              "test message: truncated reading 'length' at byte 1 (needs 4 byte(s), 2 left)");
    }
    CHECK(r.Offset() == 1);
}

TEST_CASE("ByteReader on an empty buffer rejects every read") {
    ByteReader r(std::string_view(), "postgres", "test message");
    CHECK(r.AtEnd());
    CHECK_THROWS_AS(r.ReadU8("x"), ProtocolError);
    CHECK_THROWS_AS(r.ReadCString("x"), ProtocolError);
    CHECK_THROWS_AS(r.ReadBytes(1, "x"), ProtocolError);
    CHECK(r.ReadBytes(0, "x").empty());
}

TEST_CASE("ByteReader short reads of every width throw and leave the position where it was") {
    std::string bytes("\x01\x02\x03\x04\x05\x06\x07", 7);
    ByteReader r(bytes, "postgres", "m");
    CHECK(ErrorOf([&] { r.ReadU64("u64"); }) ==
          "postgres|m: truncated reading 'u64' at byte 0 (needs 8 byte(s), 7 left)");
    CHECK(ErrorOf([&] { r.ReadI64("i64"); }) != "<no ProtocolError>");
    r.ReadBytes(4, "head");
    CHECK(ErrorOf([&] { r.ReadU32("u32"); }) ==
          "postgres|m: truncated reading 'u32' at byte 4 (needs 4 byte(s), 3 left)");
    CHECK(ErrorOf([&] { r.ReadI32("i32"); }) != "<no ProtocolError>");
    r.ReadBytes(2, "more");
    CHECK(ErrorOf([&] { r.ReadI16("i16"); }) ==
          "postgres|m: truncated reading 'i16' at byte 6 (needs 2 byte(s), 1 left)");
    CHECK(r.Offset() == 6);
    CHECK(r.ReadU8("last") == 0x07);
}

TEST_CASE("ByteReader refuses a byte run longer than what is left, however long") {
    std::string bytes("abc", 3);
    ByteReader r(bytes, "postgres", "m");
    CHECK(ErrorOf([&] { r.ReadBytes(SIZE_MAX, "data"); }) ==
          "postgres|m: truncated reading 'data' at byte 0 (needs " + std::to_string(SIZE_MAX) +
              " byte(s), 3 left)");
    CHECK(r.Remaining() == 3);
}

TEST_CASE("ByteReader refuses a string without its terminating NUL") {
    std::string bytes("\x01xyz", 4);
    ByteReader r(bytes, "postgres", "m");
    r.ReadU8("type");
    CHECK(ErrorOf([&] { r.ReadCString("name"); }) ==
          "postgres|m: string 'name' at byte 1 has no terminating NUL");
}

TEST_CASE("ByteReader ExpectEnd refuses trailing bytes") {
    std::string bytes("\x01\x02", 2);
    ByteReader r(bytes, "postgres", "m");
    r.ReadU8("a");
    CHECK(ErrorOf([&] { r.ExpectEnd(); }) ==
          "postgres|m: 1 unexpected trailing byte(s) after byte 1");
    r.ReadU8("b");
    r.ExpectEnd();
}

TEST_CASE("ByteReader errors carry the component it was made for") {
    std::string bytes("\x01", 1);
    ByteReader r(bytes, "mysql", "binlog Rotate event");
    CHECK(ErrorOf([&] { r.ReadU32("position"); }) ==
          "mysql|binlog Rotate event: truncated reading 'position' at byte 0 (needs 4 byte(s), "
          "1 left)");
}
