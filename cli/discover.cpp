#include <cstdio>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "registry/pipeline.h"
#include "registry/registry.h"

namespace cdcctl::cli {

int Discover(const std::string &file) {
    PipelineConfig config = LoadPipeline(file);
    for (const TableSchemaPtr &t : DiscoverSource(config)) {
        std::printf("%s.%s  topic %s\n", t->schema.c_str(), t->table.c_str(), t->topic.c_str());
        for (size_t i = 0; i < t->columns.size(); ++i) {
            const FieldSchema &f = t->columns[i];
            bool key = false;
            for (size_t k : t->key) key = key || k == i;
            std::string type(FieldTypeName(f.type));
            if (!f.semantic.empty()) type += " (" + f.semantic + ")";
            std::printf("  %-24s %-14s %-50s%s%s\n", f.name.c_str(), f.source_type.c_str(), type.c_str(),
                        key ? " key" : "", f.optional ? "" : " not-null");
        }
    }
    return static_cast<int>(ExitCode::kOk);
}

}  // namespace cdcctl::cli
