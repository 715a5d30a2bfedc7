// The durable offset store: one small JSON file per pipeline that records the source position
// the sink has durably accepted everything up to. A run resumes from it.
//
// The file is written for people to read (`cdcctl state` prints it) and checked on every load:
//
//   {
//     "format": 1,
//     "pipeline": "shop",
//     "source_type": "postgres",
//     "mode": "cdc",
//     "offset": {
//       "lsn": "0/16B3748",
//       "slot": "cdcctl_shop"
//     },
//     "updated_at": "2026-11-23T10:00:00Z",
//     "checksum": "crc32c:61ab3ecd"
//   }
//
// The checksum is CRC-32C (Castagnoli) over the canonical form of the other fields: the same
// object without "checksum", in the order above, offset keys sorted, no whitespace, strings with
// '"', '\\', '\n', '\r', '\t' escaped as such and other bytes below 0x20 as \u00xx (lowercase
// hex), written as "crc32c:" and 8 lowercase hex digits. Reformatting the file keeps it valid;
// changing any value does not.
//
// Save replaces the file atomically (write "<path>.tmp", fsync, rename, fsync the directory), so
// after a crash the file holds either the old or the new state, never a mix. Load never turns a
// damaged file into a silent fresh start: that would take a new snapshot, or skip changes.
#pragma once

#include <optional>
#include <string>

#include "core/event/change_event.h"

namespace cdcctl {

struct PipelineState {
    std::string pipeline;
    std::string source_type;  // "postgres", ...: a state file is never handed to another source
    // "cdc" or "sync": a CDC position is never handed to a sync run, nor the other way round. A
    // file written before cdcctl recorded the mode loads as "cdc" (its checksum covers no mode).
    std::string mode;
    Offset offset;
};

class StateStore {
public:
    // `pipeline_file` is the pipeline file the user ran, only used to tell them which
    // 'cdcctl reset' command starts over; empty: the message says "<pipeline file>".
    explicit StateStore(std::string path, std::string pipeline_file = {});

    // The stored state; nullopt when the file does not exist (a first run). Throws StateError
    // naming the file when it cannot be read, is corrupt, or has another format version. The
    // caller checks that pipeline and source_type are those of the pipeline it runs.
    std::optional<PipelineState> Load();
    // Atomically replace the file with `state`, creating parent directories as needed. Throws
    // StateError naming the file and the system error; the previous file is then untouched.
    void Save(const PipelineState &state);
    // Delete the state file (and a temp file left by a crash), so the next run starts over.
    // A missing file is not an error.
    void Remove();

    const std::string &path() const { return path_; }

private:
    [[noreturn]] void ThrowCorrupt(const std::string &reason) const;
    [[noreturn]] void ThrowSystem(const std::string &action, const std::string &target,
                                  int errnum) const;
    std::string ResetCommand() const;

    std::string path_;
    std::string pipeline_file_;
};

}  // namespace cdcctl
