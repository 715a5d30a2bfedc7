// man/cdcctl.1 against the code it documents: the commands and options declared in cli/main.cpp
// and the codes in cli/exit_codes.h are read from the sources, so that a new command, option or
// exit code fails here until the page describes it.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string Read(const std::string &path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string ManPage() {
    return Read(CDCCTL_SOURCE_DIR "/man/cdcctl.1");
}

// The body of ".SH name" up to the next ".SH".
std::string Section(const std::string &page, const std::string &name) {
    const std::string head = "\n.SH " + name + "\n";
    size_t start = page.find(head);
    if (start == std::string::npos) return "";
    start += head.size();
    size_t end = page.find("\n.SH ", start);
    return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Every first capture of `pattern` in `text`.
std::vector<std::string> Captures(const std::string &text, const std::string &pattern) {
    std::vector<std::string> out;
    std::regex re(pattern);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it) {
        out.push_back((*it)[1].str());
    }
    return out;
}

// "--drop-slot" as roff writes it, so that it is not a hyphen: "\-\-drop\-slot".
std::string Roff(const std::string &option) {
    std::string out;
    for (char c : option) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

const std::string kMain = CDCCTL_SOURCE_DIR "/cli/main.cpp";

}  // namespace

TEST_CASE("the man page has the man-pages(7) sections, in order") {
    const std::string page = ManPage();
    size_t last = 0;
    for (const char *name :
         {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT",
          "FILES", "NOTES", "EXAMPLES", "SEE ALSO"}) {
        size_t at = page.find(std::string("\n.SH ") + name + "\n");
        CHECK_MESSAGE(at != std::string::npos, "no section " << name);
        if (at == std::string::npos) continue;
        CHECK_MESSAGE(at > last, name << " is out of order");
        last = at;
    }
    CHECK(page.find(std::string("\"cdcctl ") + CDCCTL_VERSION + "\"") != std::string::npos);
    CHECK(Section(page, "SEE ALSO").find(".BR cdcctl\\-pipeline (5)") != std::string::npos);
}

TEST_CASE("every command of cli/main.cpp is in the synopsis and has its entry under COMMANDS") {
    const std::string page = ManPage();
    std::vector<std::string> commands = Captures(Read(kMain), R"re(add_subcommand\("([a-z-]+)")re");
    REQUIRE(commands.size() == 5);
    const std::string synopsis = Section(page, "SYNOPSIS");
    const std::string section = Section(page, "COMMANDS");
    std::set<std::string> documented;
    for (const auto &c : Captures(section, R"re(\n\.TP\n\\fB([a-z-]+)\\fR)re"))
        documented.insert(c);
    for (const auto &c : commands) {
        CHECK_MESSAGE(synopsis.find("\\fB" + c + "\\fR") != std::string::npos,
                      c << " is not in SYNOPSIS");
        CHECK_MESSAGE(documented.count(c), c << " has no .TP entry under COMMANDS");
    }
    CHECK(documented.size() == commands.size());
}

TEST_CASE("every option and flag of cli/main.cpp is documented") {
    const std::string page = ManPage();
    const std::string main = Read(kMain);
    std::vector<std::string> options =
        Captures(main, R"re((?:add_option|add_flag|set_version_flag)\("(--[a-z-]+)")re");
    REQUIRE(options.size() >= 6);
    for (const auto &o : options) {
        // Documented where a reader looks for it: as a .TP entry of its own.
        std::regex entry("\\n\\.TP\\n\\.BI? " +
                         std::regex_replace(Roff(o), std::regex(R"(\\)"), R"(\\)") + "( |\\n)");
        CHECK_MESSAGE(std::regex_search(page, entry), o << " has no .TP entry");
        // The global options are the "[options]" of the synopsis.
        bool in_synopsis = Section(page, "SYNOPSIS").find(Roff(o)) != std::string::npos ||
                           o == "--log-level" || o == "--log-format";
        CHECK_MESSAGE(in_synopsis, o << " is not in SYNOPSIS");
    }
}

TEST_CASE("every exit code of cli/exit_codes.h is under EXIT STATUS, and no other") {
    const std::string header = Read(CDCCTL_SOURCE_DIR "/cli/exit_codes.h");
    std::set<std::string> codes;
    for (const auto &c : Captures(header, R"re(\bk[A-Za-z]+ = ([0-9]+),)re")) codes.insert(c);
    REQUIRE(codes.size() >= 9);  // the header was read: 0, 64, 65, 69, 70, 74, 75, 76, 78
    const std::string section = Section(ManPage(), "EXIT STATUS");
    std::set<std::string> documented;
    for (const auto &c : Captures(section, R"re(\n\.TP\n\.B ([0-9]+)\n)re")) documented.insert(c);
    auto join = [](const std::set<std::string> &items) {
        std::string out;
        for (const auto &i : items) out += (out.empty() ? "" : " ") + i;
        return out;
    };
    CHECK(join(documented) == join(codes));
}
