// The file system side of the Parquet sink: one part file written under a hidden temporary name
// and published by rename, and the directories that hold them.
//
// A part file's life: created as "<dir>/.<name>.tmp" (O_EXCL, so two runs can never share one),
// written through a buffer, fdatasync'd, closed, renamed to "<dir>/<name>" without replacing
// anything (renameat2 RENAME_NOREPLACE), and then the directory is fsync'd so that the new name
// itself survives a power loss. Only then does the sink count its rows as durable. A crash at
// any point before the rename leaves only the hidden .tmp file, which the next run removes.
//
// Every failure is a SinkError that names the file and the errno text, e.g. "writing
// '/lake/foo.public.t/.20261123T210000.000Z-000001-0000000001A2B3C8.parquet.tmp' failed: No space
// left on device".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sinks/parquet/format/parquet_writer.h"

namespace cdcctl {

class PartFile : public parquet::Output {
public:
    // Creates the hidden temporary file for final name `dir`/`name`.
    // `tag` marks the temporary file as this pipeline's (".<name>.<tag>.tmp"), so that the
    // clean-up of one pipeline never removes another's file in a shared folder.
    PartFile(std::string dir, std::string name, const std::string &tag);
    // An unpublished file is removed: its rows were never counted as durable.
    ~PartFile() override;
    PartFile(const PartFile &) = delete;
    PartFile &operator=(const PartFile &) = delete;

    void Write(const uint8_t *data, size_t size) override;
    // Flushes the buffer, syncs, closes and renames to the final name (if that name exists, the
    // sequence part of the name is not unique and this is a bug: the error says so), then
    // syncs the directory.
    void Publish();

    const std::string &temp_path() const { return temp_path_; }
    const std::string &final_path() const { return final_path_; }

private:
    void FlushBuffer();
    // write(2) until every byte is written; throws SinkError naming the file (ENOSPC, EIO).
    void WriteAll(const uint8_t *data, size_t size);
    [[noreturn]] void Fail(const std::string &action, const std::string &path, int err);

    std::string dir_;
    std::string temp_path_;
    std::string final_path_;
    int fd_ = -1;
    bool published_ = false;
    std::vector<uint8_t> buf_;
    size_t used_ = 0;
};

// mkdir -p, syncing each parent whose entries changed, and the parent of `path` also when
// `path` already exists (an earlier run may have been killed between its mkdir and that sync).
// Throws SinkError naming the directory.
void MakeDirectories(const std::string &path);
// fsync of a directory. Throws SinkError naming it.
void SyncDirectory(const std::string &path);
// Removes the temporary files of PartFiles with this `tag` directly in `dir`; returns the
// paths removed.
std::vector<std::string> RemoveStaleTempFiles(const std::string &dir, const std::string &tag);

}  // namespace cdcctl
