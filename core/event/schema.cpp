#include "core/event/schema.h"

namespace cdcctl {

std::string_view FieldTypeName(FieldType type) {
    switch (type) {
        case FieldType::kBoolean: return "boolean";
        case FieldType::kInt8: return "int8";
        case FieldType::kInt16: return "int16";
        case FieldType::kInt32: return "int32";
        case FieldType::kInt64: return "int64";
        case FieldType::kFloat32: return "float";
        case FieldType::kFloat64: return "double";
        case FieldType::kString: return "string";
        case FieldType::kBytes: return "bytes";
        case FieldType::kArray: return "array";
        case FieldType::kStruct: return "struct";
    }
    return "string";
}

}  // namespace cdcctl
