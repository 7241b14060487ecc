// The files of a log directory and the few POSIX calls made on them.
//
// Every syscall result becomes a Status naming the file, so a failed fsync or a short
// write deep in the commit thread still tells the operator which file and why. Kept apart
// from the log's logic so recovery, the writer, the reader and consumer offsets share one
// spelling of segment names and one definition of "written and synced".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice {

// "%020llu.seg": zero-padded so that lexical order is offset order in `ls`.
std::string SegmentFileName(uint64_t base);
bool ParseSegmentFileName(const std::string& name, uint64_t* base);

// Segment bases found in `dir`, ascending.
Status ListSegments(const std::string& dir, std::vector<uint64_t>* bases);

// mkdir -p.
Status CreateDirs(const std::string& dir);
// Makes a create/rename/unlink/truncate in `dir` durable (POSIX leaves it to the caller).
Status SyncDir(const std::string& dir);

// pwrite()s all n bytes at file offset `at`, retrying EINTR and short writes.
Status WriteFullyAt(int fd, const char* data, size_t n, uint64_t at, const std::string& path);

// Writes `contents` to `path` atomically: temp file, fsync, rename, fsync of the directory.
Status WriteFileAtomic(const std::string& path, const std::string& contents);
// pread() exactly n bytes; Corruption if the file ends first.
Status ReadFully(int fd, uint64_t pos, char* data, size_t n, const std::string& path);

}  // namespace sluice
