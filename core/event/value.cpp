#include "core/event/value.h"

namespace cdcctl {

bool Value::operator==(const Value &o) const {
    if (kind_ != o.kind_) return false;
    switch (kind_) {
        case Kind::kNull:
        case Kind::kUnavailable: return true;
        case Kind::kBool: return num_.b == o.num_.b;
        case Kind::kInt: return num_.i == o.num_.i;
        case Kind::kDouble: return num_.d == o.num_.d;
        case Kind::kString:
        case Kind::kBytes: return str_ == o.str_;
        case Kind::kArray:
        case Kind::kStruct: return items_ == o.items_;
    }
    return false;
}

}  // namespace cdcctl
