#include "sources/postgres/copy_text.h"

#include "core/error.h"

namespace cdcctl::pg {
namespace {

int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

const std::vector<CopyField> &CopyTextSplitter::Split(std::string_view line, size_t expected_fields) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    fields_.clear();
    // Unescaped text is never longer than the raw line, so views into scratch_ stay valid.
    scratch_.clear();
    scratch_.reserve(line.size());
    size_t i = 0;
    while (true) {
        size_t start = i;
        bool escaped = false;
        while (i < line.size() && line[i] != '\t') {
            if (line[i] == '\\') {
                escaped = true;
                ++i;
            }
            ++i;
        }
        std::string_view raw = line.substr(start, std::min(i, line.size()) - start);
        CopyField f;
        if (raw == "\\N") {
            f.is_null = true;
        } else if (!escaped) {
            f.text = raw;
        } else {
            size_t begin = scratch_.size();
            for (size_t k = 0; k < raw.size(); ++k) {
                char c = raw[k];
                if (c != '\\') {
                    scratch_ += c;
                    continue;
                }
                if (++k >= raw.size()) throw ProtocolError("postgres", "COPY row ends inside an escape");
                char e = raw[k];
                switch (e) {
                    case 'b': scratch_ += '\b'; break;
                    case 'f': scratch_ += '\f'; break;
                    case 'n': scratch_ += '\n'; break;
                    case 'r': scratch_ += '\r'; break;
                    case 't': scratch_ += '\t'; break;
                    case 'v': scratch_ += '\v'; break;
                    case 'x': {
                        int v = 0, n = 0;
                        while (n < 2 && k + 1 < raw.size() && HexDigit(raw[k + 1]) >= 0) {
                            v = v * 16 + HexDigit(raw[++k]);
                            ++n;
                        }
                        if (n == 0) scratch_ += 'x';
                        else scratch_ += static_cast<char>(v);
                        break;
                    }
                    default:
                        if (e >= '0' && e <= '7') {
                            int v = e - '0', n = 1;
                            while (n < 3 && k + 1 < raw.size() && raw[k + 1] >= '0' && raw[k + 1] <= '7') {
                                v = v * 8 + (raw[++k] - '0');
                                ++n;
                            }
                            scratch_ += static_cast<char>(v);
                        } else {
                            scratch_ += e;  // \\ and any other character stand for themselves
                        }
                }
            }
            f.text = std::string_view(scratch_).substr(begin);
        }
        fields_.push_back(f);
        if (i >= line.size()) break;
        ++i;  // the tab
    }
    if (fields_.size() != expected_fields) {
        throw ProtocolError("postgres", "COPY row has " + std::to_string(fields_.size()) +
                                            " fields, expected " + std::to_string(expected_fields));
    }
    return fields_;
}

}  // namespace cdcctl::pg
