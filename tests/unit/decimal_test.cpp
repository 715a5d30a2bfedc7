// Kafka Connect Decimals: unscaled big-endian two's-complement bytes and a scale, to decimal text
// and back, as BigInteger.toByteArray and BigDecimal.toPlainString write them.
#include "core/event/decimal.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace cdcctl;

namespace {

std::string Hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (char c : bytes) {
        s.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
        s.push_back(kDigits[static_cast<uint8_t>(c) & 0xF]);
    }
    return s;
}

std::string Bytes(std::string_view hex) {
    std::string s;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        s.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return s;
}

std::string Text(std::string_view unscaled, int32_t scale) {
    std::string s;
    AppendDecimalText(&s, unscaled, scale);
    return s;
}

// The unscaled bytes of `text` at `scale` in hex, or "<rejected>".
std::string Unscaled(std::string_view text, int32_t scale) {
    std::string out = "untouched";
    if (!UnscaledFromText(text, scale, &out)) return out == "untouched" ? "<rejected>" : "<changed>";
    return Hex(out);
}

// Java's BigInteger.valueOf(v).toByteArray(): the fewest bytes that keep the sign.
std::string MinimalBytes(int64_t v) {
    std::string b;
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
    while (b.size() > 1 && ((b[0] == 0 && (static_cast<uint8_t>(b[1]) & 0x80) == 0) ||
                            (b[0] == static_cast<char>(0xFF) && (static_cast<uint8_t>(b[1]) & 0x80)))) {
        b.erase(0, 1);
    }
    return b;
}

const std::string k38Nines(38, '9');

}  // namespace

TEST_CASE("zero is one 0x00 byte and prints with its scale's zeros") {
    CHECK(Unscaled("0", 0) == "00");
    CHECK(Unscaled("0.00", 2) == "00");
    CHECK(Unscaled("-0.00", 2) == "00");
    CHECK(Unscaled("000", 0) == "00");
    CHECK(Text(Bytes("00"), 0) == "0");
    CHECK(Text(Bytes("00"), 2) == "0.00");
    CHECK(Text(Bytes("0000"), 1) == "0.0");
    CHECK(Text(Bytes("00"), -3) == "0");
}

TEST_CASE("empty bytes read as zero") {
    CHECK(Text("", 0) == "0");
    CHECK(Text("", 2) == "0.00");
    int64_t v = 7;
    CHECK(UnscaledToInt64("", &v));
    CHECK(v == 0);
}

TEST_CASE("a negative decimal round-trips") {
    CHECK(Unscaled("-24.90", 2) == "f646");
    CHECK(Text(Bytes("f646"), 2) == "-24.90");
    CHECK(Text(Bytes("ff"), 0) == "-1");
    CHECK(Text(Bytes("ff"), 3) == "-0.001");
}

TEST_CASE("scale 0 is a plain integer") {
    CHECK(Unscaled("12345", 0) == "3039");
    CHECK(Text(Bytes("3039"), 0) == "12345");
    CHECK(Unscaled("+12345", 0) == "3039");
}

TEST_CASE("a scale larger than the digits pads with zeros after the point") {
    CHECK(Unscaled("0.00012", 5) == "0c");
    CHECK(Text(Bytes("0c"), 5) == "0.00012");
    CHECK(Text(Bytes("05"), 3) == "0.005");
    CHECK(Text(Bytes("f4"), 5) == "-0.00012");
    CHECK(Unscaled(".5", 3) == "01f4");
}

TEST_CASE("digits fit a larger scale with trailing zeros") {
    CHECK(Unscaled("1.5", 3) == "05dc");  // 1500
    CHECK(Unscaled("1.230", 2) == "7b");  // a zero beyond the scale is dropped
}

TEST_CASE("a negative scale prints trailing zeros and takes multiples of its power of ten") {
    CHECK(Text(Bytes("0c"), -2) == "1200");
    CHECK(Unscaled("1200", -2) == "0c");
    CHECK(Unscaled("-1200.00", -2) == "f4");
    CHECK(Unscaled("0", -2) == "00");
}

TEST_CASE("digits that do not fit the scale are refused and say why") {
    DecimalDigits d, fitted;
    size_t zeros = 0;
    REQUIRE(SplitDecimalText("1.234", &d));
    CHECK(FitToScale(d, 2, &fitted, &zeros) == ScaleFit::kTooManyFractionDigits);
    REQUIRE(SplitDecimalText("12.5", &d));
    CHECK(FitToScale(d, -1, &fitted, &zeros) == ScaleFit::kFractionWithNegativeScale);
    REQUIRE(SplitDecimalText("1234", &d));
    CHECK(FitToScale(d, -2, &fitted, &zeros) == ScaleFit::kNotMultiple);
    REQUIRE(SplitDecimalText("5", &d));
    CHECK(FitToScale(d, -2, &fitted, &zeros) == ScaleFit::kNotMultiple);
    CHECK(Unscaled("1.234", 2) == "<rejected>");
}

TEST_CASE("38-digit values round-trip in sixteen bytes") {
    CHECK(Unscaled(k38Nines, 0) == "4b3b4ca85a86c47a098a223fffffffff");
    CHECK(Unscaled("-" + k38Nines, 0) == "b4c4b357a5793b85f675ddc000000001");
    CHECK(Text(Bytes("4b3b4ca85a86c47a098a223fffffffff"), 0) == k38Nines);
    CHECK(Text(Bytes("b4c4b357a5793b85f675ddc000000001"), 0) == "-" + k38Nines);
    CHECK(Text(Bytes("4b3b4ca85a86c47a098a223fffffffff"), 10) ==
          std::string(28, '9') + "." + std::string(10, '9'));
    CHECK(Unscaled(std::string(28, '9') + "." + std::string(10, '9'), 10) ==
          "4b3b4ca85a86c47a098a223fffffffff");
}

TEST_CASE("a negative number whose magnitude has the high bit set keeps a sign byte") {
    // 200 is 0xC8: its negation needs 0xFF in front to stay negative.
    CHECK(Unscaled("-200", 0) == "ff38");
    CHECK(Text(Bytes("ff38"), 0) == "-200");
    CHECK(Unscaled("-129", 0) == "ff7f");
    CHECK(Text(Bytes("ff7f"), 0) == "-129");
    // -128 is exactly 0x80: no redundant sign byte.
    CHECK(Unscaled("-128", 0) == "80");
    CHECK(Text(Bytes("80"), 0) == "-128");
    CHECK(Unscaled("-32768", 0) == "8000");
    CHECK(Text(Bytes("ff80"), 0) == "-128");  // a redundant sign byte still reads right
}

TEST_CASE("a positive number whose top byte has the high bit set gets a 0x00 sign byte") {
    CHECK(Unscaled("128", 0) == "0080");
    CHECK(Text(Bytes("0080"), 0) == "128");
    CHECK(Unscaled("255", 0) == "00ff");
}

TEST_CASE("integers round-trip as BigInteger.toByteArray writes them") {
    int64_t values[] = {0, 1, -1, 127, -127, 128, -128, 255, -256, 32767, -32769, 1000000007,
                        -999999999999, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (int64_t v : values) {
        CAPTURE(v);
        std::string text = std::to_string(v);
        std::string bytes;
        REQUIRE(UnscaledFromText(text, 0, &bytes));
        CHECK(Hex(bytes) == Hex(MinimalBytes(v)));
        CHECK(Text(bytes, 0) == text);
        int64_t back = 0;
        CHECK(UnscaledToInt64(bytes, &back));
        CHECK(back == v);
    }
}

TEST_CASE("values of hundreds of digits round-trip") {
    std::string digits;
    for (int i = 0; i < 700; ++i) digits.push_back(static_cast<char>('1' + i % 9));
    std::string bytes;
    REQUIRE(UnscaledFromText("-" + digits, 0, &bytes));
    CHECK(Text(bytes, 0) == "-" + digits);
    CHECK(Text(bytes, 300) == "-" + digits.substr(0, 400) + "." + digits.substr(400));
    REQUIRE(UnscaledFromText(digits, 0, &bytes));
    CHECK(Text(bytes, 0) == digits);
}

TEST_CASE("malformed decimal text is rejected without touching the output") {
    for (std::string_view bad : {"", "-", "+", ".", "-.", "1e5", "1.2.3", " 1", "1 ", "NaN",
                                 "Infinity", "0x10", "1,5"}) {
        CAPTURE(bad);
        CHECK(Unscaled(bad, 2) == "<rejected>");
    }
}

TEST_CASE("decimal text splits into sign, integer and fraction digits") {
    DecimalDigits d;
    REQUIRE(SplitDecimalText("-012.340", &d));
    CHECK(d.negative);
    CHECK(d.int_digits == "012");
    CHECK(d.frac_digits == "340");
    REQUIRE(SplitDecimalText("7", &d));
    CHECK(!d.negative);
    CHECK(d.frac_digits.empty());
}

TEST_CASE("int64 conversion refuses what needs more than 64 bits") {
    int64_t v = 0;
    CHECK(UnscaledToInt64(Bytes("ffff8000000000000000"), &v));
    CHECK(v == INT64_MIN);
    CHECK(!UnscaledToInt64(Bytes("008000000000000000"), &v));  // 2^63
    CHECK(!UnscaledToInt64(Bytes("ff7fffffffffffffff"), &v));  // -2^63 - 1
    CHECK(!UnscaledToInt64(Bytes("010000000000000000"), &v));
}

TEST_CASE("resizing sign-extends and drops only redundant sign bytes") {
    std::string out;
    REQUIRE(ResizeUnscaled(Bytes("80"), 4, &out));
    CHECK(Hex(out) == "ffffff80");
    REQUIRE(ResizeUnscaled(Bytes("3039"), 4, &out));
    CHECK(Hex(out) == "00003039");
    REQUIRE(ResizeUnscaled(Bytes("000001"), 1, &out));
    CHECK(Hex(out) == "01");
    REQUIRE(ResizeUnscaled(Bytes("ffff80"), 1, &out));
    CHECK(Hex(out) == "80");
    CHECK(!ResizeUnscaled(Bytes("0080"), 1, &out));  // 128 is not -128
    CHECK(!ResizeUnscaled(Bytes("ff7f"), 1, &out));  // -129 is not 127
    CHECK(!ResizeUnscaled(Bytes("010000"), 2, &out));
}

TEST_CASE("the byte width for a precision holds its largest values") {
    CHECK(UnscaledBytesForPrecision(1) == 1);
    CHECK(UnscaledBytesForPrecision(2) == 1);
    CHECK(UnscaledBytesForPrecision(3) == 2);
    CHECK(UnscaledBytesForPrecision(9) == 4);
    CHECK(UnscaledBytesForPrecision(10) == 5);
    CHECK(UnscaledBytesForPrecision(18) == 8);
    CHECK(UnscaledBytesForPrecision(19) == 9);
    CHECK(UnscaledBytesForPrecision(38) == 16);
    std::string bytes;
    REQUIRE(UnscaledFromText("-" + k38Nines, 0, &bytes));
    CHECK(bytes.size() <= static_cast<size_t>(UnscaledBytesForPrecision(38)));
}
