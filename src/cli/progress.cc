#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sluice {

Progress::Progress(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      total_(total_bytes),
      enabled_(enabled && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Add(uint64_t bytes) {
  done_ += bytes;
  Draw(false);
}

void Progress::SetEvents(uint64_t events) {
  events_ = events;
  Draw(false);
}

void Progress::Draw(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(events_) / secs : 0;
  if (total_ > 0) {
    int width = 30;
    int filled = static_cast<int>(width * static_cast<double>(done_) / static_cast<double>(total_));
    if (filled > width) filled = width;
    std::fprintf(stderr, "\r%s [%.*s%*s] %3.0f%% %.1f/%.1f MiB %llu events %.0f/s ", label_.c_str(),
                 filled, "##############################", width - filled, "",
                 100.0 * static_cast<double>(done_) / static_cast<double>(total_),
                 static_cast<double>(done_) / 1048576.0, static_cast<double>(total_) / 1048576.0,
                 static_cast<unsigned long long>(events_), rate);
  } else {
    std::fprintf(stderr, "\r%s %.1f MiB %llu events %.0f/s ", label_.c_str(),
                 static_cast<double>(done_) / 1048576.0, static_cast<unsigned long long>(events_),
                 rate);
  }
  std::fflush(stderr);
}

void Progress::Done() {
  if (!enabled_) return;
  Draw(true);
  std::fprintf(stderr, "\n");
}

}  // namespace sluice
