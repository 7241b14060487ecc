// Names the calling thread, so `top -H`, `pidstat -t`, perf and gdb tell sluice's threads
// apart (the io threads from the log's commit thread from the store consumer). Linux
// keeps 15 bytes of a name; longer names are cut.
#pragma once

namespace sluice {

void SetCurrentThreadName(const char* name);

}  // namespace sluice
