// "Did you mean" for near misses, in the manner of DuckDB's CandidatesErrorMessage: a typo in a
// key or an enum value should name the intended spelling instead of listing every candidate.
// Nothing here knows about specs, so the pipeline file's own keys (source types) use it too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cdcctl {

// Damerau-Levenshtein (optimal string alignment) distance.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate closest to `word`, if within max(2, len/3) edits, or if `word` is a candidate
// followed by "_something" (counted as one edit); "" otherwise. Case is ignored.
std::string ClosestMatch(std::string_view word, const std::vector<std::string> &candidates);

}  // namespace cdcctl
