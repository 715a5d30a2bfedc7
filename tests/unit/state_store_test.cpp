#include "core/state/state_store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "core/error.h"
#include "tests/unit/temp_dir.h"

using namespace cdcctl;
using cdcctl::unit::TempDir;
namespace fs = std::filesystem;

namespace {


std::string ReadFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

PipelineState ShopState() {
    PipelineState state;
    state.pipeline = "shop";
    state.source_type = "postgres";
    state.offset = {{"slot", "cdcctl_shop"}, {"lsn", "0/16B3748"}};
    return state;
}

// The StateError message Load throws for the file at `path`.
std::string LoadError(const std::string &path) {
    StateStore store(path, "shop.yaml");
    try {
        store.Load();
    } catch (const StateError &e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST_CASE("a saved state loads back unchanged") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    PipelineState state = ShopState();
    state.offset["note"] = "quote \" backslash \\ newline \n tab \t bell \a caf\xc3\xa9";
    state.offset["empty"] = "";
    store.Save(state);

    std::optional<PipelineState> loaded = store.Load();
    REQUIRE(loaded.has_value());
    CHECK(loaded->pipeline == "shop");
    CHECK(loaded->source_type == "postgres");
    CHECK(loaded->offset == state.offset);
}

TEST_CASE("a missing state file means a fresh start") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    CHECK_FALSE(store.Load().has_value());
}

TEST_CASE("save creates the parent directories") {
    TempDir tmp;
    StateStore store(tmp.Path(".cdcctl/nested/shop.state"));
    store.Save(ShopState());
    CHECK(fs::is_regular_file(tmp.dir / ".cdcctl/nested/shop.state"));
    CHECK(store.Load().has_value());
}

TEST_CASE("a second save replaces the first") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    store.Save(ShopState());
    PipelineState later = ShopState();
    later.offset["lsn"] = "0/2000000";
    store.Save(later);
    CHECK(store.Load()->offset.at("lsn") == "0/2000000");
}

TEST_CASE("the state file is pretty-printed JSON with a stable key order") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    store.Save(ShopState());
    std::string text = ReadFile(store.path());
    CHECK(text.rfind("{\n  \"format\": 1,\n  \"pipeline\": \"shop\",\n"
                     "  \"source_type\": \"postgres\",\n  \"offset\": {\n"
                     "    \"lsn\": \"0/16B3748\",\n    \"slot\": \"cdcctl_shop\"\n  },\n"
                     "  \"updated_at\": \"",
                     0) == 0);
    CHECK(text.find("\",\n  \"checksum\": \"crc32c:") != std::string::npos);
    CHECK(text.substr(text.size() - 4) == "\"\n}\n");
}

TEST_CASE("an empty offset is written as an empty object") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    PipelineState state = ShopState();
    state.offset.clear();
    store.Save(state);
    CHECK(ReadFile(store.path()).find("\"offset\": {},\n") != std::string::npos);
    CHECK(store.Load()->offset.empty());
}

TEST_CASE("a file written by hand with the documented checksum loads") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    WriteFile(path,
              "{\"format\":1,\"pipeline\":\"shop\",\"source_type\":\"postgres\","
              "\"offset\":{\"slot\":\"cdcctl_shop\",\"lsn\":\"0/16B3748\"},"
              "\"updated_at\":\"2026-11-23T10:00:00Z\",\"checksum\":\"crc32c:61ab3ecd\"}");
    std::optional<PipelineState> loaded = StateStore(path).Load();
    REQUIRE(loaded.has_value());
    CHECK(loaded->offset == ShopState().offset);
}

TEST_CASE("reformatting the file keeps it valid") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    store.Save(ShopState());
    std::string text = ReadFile(store.path());
    std::string compact;
    bool in_string = false;
    for (char c : text) {
        if (c == '"') in_string = !in_string;
        if (in_string || (c != ' ' && c != '\n')) compact.push_back(c);
    }
    WriteFile(store.path(), "\t" + compact + "\n\n");
    CHECK(store.Load()->offset == ShopState().offset);
}

TEST_CASE("a file cut short anywhere is reported as corrupt, with the way out") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore(path).Save(ShopState());
    const std::string full = ReadFile(path);
    const size_t end = full.rfind('}');
    for (size_t len = 1; len <= end; ++len) {
        CAPTURE(len);
        WriteFile(path, full.substr(0, len));
        std::string message = LoadError(path);
        CHECK(message.find("state file '" + path + "' is corrupt") != std::string::npos);
        CHECK(message.find("run 'cdcctl reset shop.yaml'") != std::string::npos);
    }
}

TEST_CASE("an empty state file is corrupt, not a fresh start") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    WriteFile(path, "");
    CHECK(LoadError(path) ==
          "state file '" + path +
              "' is corrupt (empty file); it was not written by cdcctl or was damaged. Inspect "
              "it, or run 'cdcctl reset shop.yaml' to start over with a new snapshot.");
}

TEST_CASE("a changed value fails the checksum") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore(path).Save(ShopState());
    std::string text = ReadFile(path);
    text.replace(text.find("0/16B3748"), 9, "0/16B3749");
    WriteFile(path, text);
    CHECK(LoadError(path).find("is corrupt (checksum mismatch)") != std::string::npos);
}

TEST_CASE("every single flipped bit in the file is detected") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore(path).Save(ShopState());
    const std::string full = ReadFile(path);
    for (size_t i = 0; i < full.size(); ++i) {
        for (int bit : {0, 5}) {
            CAPTURE(i);
            CAPTURE(bit);
            std::string damaged = full;
            damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
            WriteFile(path, damaged);
            CHECK(LoadError(path).find("state file '" + path + "'") != std::string::npos);
        }
    }
}

TEST_CASE("a state file from another format version names both versions") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore(path).Save(ShopState());
    std::string text = ReadFile(path);
    text.replace(text.find("\"format\": 1"), 11, "\"format\": 2");
    WriteFile(path, text);
    std::string message = LoadError(path);
    CHECK(message.find("has format 2, but this cdcctl reads format 1") != std::string::npos);
    CHECK(message.find("'cdcctl reset shop.yaml'") != std::string::npos);
}

TEST_CASE("a missing field is named") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    WriteFile(path,
              "{\"format\": 1, \"pipeline\": \"shop\", \"offset\": {}, "
              "\"updated_at\": \"2026-11-23T10:00:00Z\", \"checksum\": \"crc32c:00000000\"}");
    CHECK(LoadError(path).find("is corrupt (missing field 'source_type')") != std::string::npos);
}

TEST_CASE("an unknown field is named") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore(path).Save(ShopState());
    std::string text = ReadFile(path);
    text.insert(1, "\"extra\": true,");
    WriteFile(path, text);
    CHECK(LoadError(path).find("is corrupt (unknown field 'extra')") != std::string::npos);
}

TEST_CASE("a JSON document that is not an object is corrupt") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    WriteFile(path, "[1, 2, 3]\n");
    CHECK(LoadError(path).find("is corrupt (not a JSON object)") != std::string::npos);
}

TEST_CASE("without a pipeline file the reset hint is generic") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    WriteFile(path, "{");
    try {
        StateStore(path).Load();
        FAIL("Load accepted a corrupt file");
    } catch (const StateError &e) {
        CHECK(std::string(e.what()).find("run 'cdcctl reset <pipeline file>'") !=
              std::string::npos);
        CHECK(e.Component() == "state");
    }
}

TEST_CASE("a state path that is a directory cannot be read, and the error says so") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    fs::create_directory(path);
    std::string message = LoadError(path);
    CHECK(message.find("cannot read state file '" + path + "': Is a directory") !=
          std::string::npos);
}

TEST_CASE("a failed save names the file and leaves the previous state intact") {
    TempDir tmp;
    std::string path = tmp.Path("shop.state");
    StateStore store(path);
    store.Save(ShopState());
    const std::string before = ReadFile(path);
    // We may run as root, which ignores permissions: a directory in the temp file's place makes
    // the open fail for everyone.
    fs::create_directory(path + ".tmp");

    PipelineState later = ShopState();
    later.offset["lsn"] = "0/2000000";
    try {
        store.Save(later);
        FAIL("Save succeeded although the temp file could not be opened");
    } catch (const StateError &e) {
        std::string message = e.what();
        CHECK(message.find("cannot write state file '" + path + "' ('" + path +
                           ".tmp'): Is a directory") != std::string::npos);
    }
    CHECK(ReadFile(path) == before);
    CHECK(store.Load()->offset.at("lsn") == "0/16B3748");
}

TEST_CASE("save leaves no temp file behind and makes the file private") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    store.Save(ShopState());
    store.Save(ShopState());
    CHECK_FALSE(fs::exists(store.path() + ".tmp"));
    struct stat st {};
    REQUIRE(stat(store.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("save refuses values that would not load again") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    PipelineState state = ShopState();
    state.offset["lsn"] = "\xff\xfe";
    CHECK_THROWS_WITH_AS(store.Save(state),
                         doctest::Contains("offset field 'lsn' is not valid UTF-8"), StateError);
    CHECK_FALSE(fs::exists(store.path()));
}

TEST_CASE("remove deletes the state, so the next load is a fresh start") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    store.Save(ShopState());
    store.Remove();
    CHECK_FALSE(fs::exists(store.path()));
    CHECK_FALSE(store.Load().has_value());
}

TEST_CASE("removing a state that does not exist is not an error") {
    TempDir tmp;
    StateStore store(tmp.Path("missing/shop.state"));
    CHECK_NOTHROW(store.Remove());
}

TEST_CASE("the mode is saved and loads back") {
    TempDir tmp;
    StateStore store(tmp.Path("shop.state"));
    PipelineState state = ShopState();
    state.mode = "sync";
    store.Save(state);
    CHECK(ReadFile(tmp.Path("shop.state")).find("\"mode\": \"sync\"") != std::string::npos);
    std::optional<PipelineState> loaded = store.Load();
    REQUIRE(loaded.has_value());
    CHECK(loaded->mode == "sync");
}

TEST_CASE("a state file from before the mode was recorded loads as a cdc state") {
    TempDir tmp;
    const std::string path = tmp.Path("shop.state");
    // As cdcctl 0.1.0 wrote it: no "mode", and a checksum that covers none.
    const std::string old = R"({
  "format": 1,
  "pipeline": "shop",
  "source_type": "postgres",
  "offset": {
    "lsn": "0/16B3748",
    "slot": "cdcctl_shop"
  },
  "updated_at": "2026-11-23T10:00:00Z",
  "checksum": "crc32c:61ab3ecd"
}
)";
    WriteFile(path, old);
    StateStore store(path);
    std::optional<PipelineState> loaded = store.Load();
    REQUIRE(loaded.has_value());
    CHECK(loaded->mode == "cdc");
    CHECK(loaded->offset.at("lsn") == "0/16B3748");

    // A mode added by hand to such a file breaks its checksum.
    std::string edited = old;
    edited.replace(edited.find("\"offset\""), 0, "\"mode\": \"sync\",\n  ");
    WriteFile(path, edited);
    CHECK(LoadError(path).find("checksum mismatch") != std::string::npos);
}
