#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char **argv) {
    CLI::App app{"cdcctl: change data capture and ETL in one binary"};
    app.set_version_flag("--version", std::string("cdcctl ") + CDCCTL_VERSION);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
