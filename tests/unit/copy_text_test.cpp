// COPY ... TO STDOUT text rows split into fields: tabs, \N, backslash escapes and malformed rows.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "sources/postgres/copy_text.h"

using namespace cdcctl;
using namespace cdcctl::pg;

namespace {

// The fields of one row as strings, with "<NULL>" for \N.
std::vector<std::string> SplitRow(CopyTextSplitter &splitter, std::string_view line, size_t expected) {
    std::vector<std::string> out;
    for (const CopyField &f : splitter.Split(line, expected)) {
        out.push_back(f.is_null ? "<NULL>" : std::string(f.text));
    }
    return out;
}

std::vector<std::string> SplitRow(std::string_view line, size_t expected) {
    CopyTextSplitter splitter;
    return SplitRow(splitter, line, expected);
}

using Fields = std::vector<std::string>;

}  // namespace

TEST_CASE("fields are separated by tabs and the trailing newline is dropped") {
    CHECK(SplitRow("1\tabc\t2.5\n", 3) == Fields{"1", "abc", "2.5"});
    CHECK(SplitRow("1\tabc\t2.5", 3) == Fields{"1", "abc", "2.5"});
    // Only one newline ends the row; an escaped newline inside a value is \n, never a raw one.
    CHECK(SplitRow("a\n", 1) == Fields{"a"});
}

TEST_CASE("empty fields are empty strings, not nulls") {
    CHECK(SplitRow("\t\t\n", 3) == Fields{"", "", ""});
    CHECK(SplitRow("\n", 1) == Fields{""});
    CHECK(SplitRow("", 1) == Fields{""});
    CHECK(SplitRow("a\t\tb\n", 3) == Fields{"a", "", "b"});
    CHECK(SplitRow("a\t\n", 2) == Fields{"a", ""});
}

TEST_CASE("\\N is null, anywhere in the row") {
    CHECK(SplitRow("\\N\n", 1) == Fields{"<NULL>"});
    CHECK(SplitRow("\\N\t1\t\\N\n", 3) == Fields{"<NULL>", "1", "<NULL>"});
    // Only the whole field: \N inside a value, or an escaped backslash before N, is text.
    CHECK(SplitRow("a\\Nb\n", 1) == Fields{"aNb"});
    CHECK(SplitRow("\\\\N\n", 1) == Fields{"\\N"});
}

TEST_CASE("single-character escapes") {
    CHECK(SplitRow("\\b\\f\\n\\r\\t\\v\\\\\n", 1) == Fields{"\b\f\n\r\t\v\\"});
    CHECK(SplitRow("line1\\nline2\tcol\\twith\\ttabs\n", 2) == Fields{"line1\nline2", "col\twith\ttabs"});
    // Any other escaped character stands for itself.
    CHECK(SplitRow("\\a\\.\\\"\n", 1) == Fields{"a.\""});
}

TEST_CASE("octal escapes take one to three octal digits") {
    CHECK(SplitRow("\\101\\0\\7x\\1234\n", 1) == Fields{std::string("A\0\7xS4", 6)});
    CHECK(SplitRow("\\18\n", 1) == Fields{"\0018"});
    CHECK(SplitRow("\\377\n", 1) == Fields{"\xFF"});
}

TEST_CASE("hex escapes take one or two hex digits") {
    CHECK(SplitRow("\\x41\\x4a\\x4B\\x7\n", 1) == Fields{"AJK\x07"});
    CHECK(SplitRow("\\x414\n", 1) == Fields{"A4"});
    CHECK(SplitRow("\\xg\n", 1) == Fields{"xg"});  // no digit: the x itself
    CHECK(SplitRow("\\xe2\\x82\\xac\n", 1) == Fields{"\xE2\x82\xAC"});
}

TEST_CASE("escaped and plain fields mix in one row and views stay valid") {
    CopyTextSplitter splitter;
    const auto &fields = splitter.Split("plain\ta\\tb\t\\N\tc\\\\d\tlast\n", 5);
    REQUIRE(fields.size() == 5);
    CHECK(fields[0].text == "plain");
    CHECK(fields[1].text == "a\tb");
    CHECK(fields[2].is_null);
    CHECK(fields[3].text == "c\\d");
    CHECK(fields[4].text == "last");
    CHECK_FALSE(fields[4].is_null);
}

TEST_CASE("long rows are split correctly across 16-byte blocks") {
    // Fields of every length from 0 to 40, some with escapes, so that tabs and backslashes fall
    // at every position of a block and in the line's last partial block.
    for (size_t escape_every = 0; escape_every < 4; ++escape_every) {
        std::string line;
        Fields expected;
        for (size_t len = 0; len <= 40; ++len) {
            std::string value;
            for (size_t k = 0; k < len; ++k) {
                if (escape_every != 0 && (k + len) % (escape_every + 2) == 0) {
                    line += "\\t";
                    value += '\t';
                } else {
                    char c = static_cast<char>('a' + (k + len) % 26);
                    line += c;
                    value += c;
                }
            }
            expected.push_back(value);
            line += '\t';
        }
        line += "\\N\n";
        expected.push_back("<NULL>");
        CAPTURE(line);
        CHECK(SplitRow(line, expected.size()) == expected);
    }
}

TEST_CASE("a backslash at the end of the line, escaping a tab or a newline") {
    CHECK_THROWS_AS(SplitRow("abc\\\n", 1), ProtocolError);
    CHECK_THROWS_AS(SplitRow("abc\\", 1), ProtocolError);
    CHECK_THROWS_AS(SplitRow("a\t\\", 2), ProtocolError);
    // A backslash before a raw tab (PostgreSQL writes \t instead) keeps the tab in the field.
    CHECK(SplitRow("a\\\tb\tc\n", 2) == Fields{"a\tb", "c"});
}

TEST_CASE("a field count other than the expected one is a ProtocolError") {
    CHECK_THROWS_AS(SplitRow("1\t2\n", 3), ProtocolError);
    CHECK_THROWS_AS(SplitRow("1\t2\t3\t4\n", 3), ProtocolError);
    CHECK_THROWS_AS(SplitRow("\n", 2), ProtocolError);
    // An escaped tab does not separate fields.
    CHECK_THROWS_AS(SplitRow("1\\t2\n", 2), ProtocolError);
    try {
        SplitRow("1\t2\n", 3);
    } catch (const ProtocolError &e) {
        CHECK(std::string(e.what()).find("COPY row has 2 fields, expected 3") != std::string::npos);
    }
}

TEST_CASE("the splitter is reused across rows of different shapes") {
    CopyTextSplitter splitter;
    CHECK(SplitRow(splitter, "a\\nb\t\\N\n", 2) == Fields{"a\nb", "<NULL>"});
    CHECK(SplitRow(splitter, "x\ty\tz\n", 3) == Fields{"x", "y", "z"});
    CHECK_THROWS_AS(SplitRow(splitter, "x\n", 3), ProtocolError);
    CHECK(SplitRow(splitter, "\\x41\n", 1) == Fields{"A"});
}
