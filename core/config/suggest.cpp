#include "core/config/suggest.h"

#include <algorithm>
#include <cctype>

namespace cdcctl {

size_t EditDistance(std::string_view a, std::string_view b) {
    // Optimal string alignment: Levenshtein plus transposition of two adjacent characters,
    // the commonest typo ("slto").
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string> &candidates) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const std::string w = lower(word);
    const size_t limit = std::max<size_t>(2, word.size() / 3);
    std::string best;
    size_t best_distance = limit + 1;
    for (const auto &c : candidates) {
        const std::string lc = lower(c);
        size_t d = EditDistance(w, lc);
        // "slot_nme" means "slot" with a qualifier added, however far apart they are by edits.
        if (w.size() > lc.size() + 1 && w.compare(0, lc.size(), lc) == 0 && w[lc.size()] == '_') {
            d = std::min<size_t>(d, 1);
        }
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

}  // namespace cdcctl
