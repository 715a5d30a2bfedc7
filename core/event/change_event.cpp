#include "core/event/change_event.h"

namespace cdcctl {

std::string_view SnapshotMarkerName(SnapshotMarker m) {
    switch (m) {
        case SnapshotMarker::kFalse: return "false";
        case SnapshotMarker::kTrue: return "true";
        case SnapshotMarker::kFirst: return "first";
        case SnapshotMarker::kLast: return "last";
        case SnapshotMarker::kFirstInDataCollection: return "first_in_data_collection";
        case SnapshotMarker::kLastInDataCollection: return "last_in_data_collection";
    }
    return "false";
}

}  // namespace cdcctl
