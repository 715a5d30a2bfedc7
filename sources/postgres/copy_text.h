// COPY ... TO STDOUT in text format, one data row per CopyData message:
//   fields separated by a tab, the row ended by a newline, NULL written as \N, and backslash
//   escapes for \b \f \n \r \t \v \\, \ooo (octal) and \xhh (hex) in field values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cdcctl::pg {

struct CopyField {
    bool is_null = false;
    std::string_view text;  // valid until the next Split()
};

class CopyTextSplitter {
public:
    // Splits one row; throws ProtocolError if the field count differs from `expected_fields`
    // or an escape is malformed.
    const std::vector<CopyField> &Split(std::string_view line, size_t expected_fields);

private:
    std::vector<CopyField> fields_;
    std::string scratch_;
};

}  // namespace cdcctl::pg
