// A one-line progress bar on stderr for long CLI commands — only when stderr is a
// terminal, so logs and CI output stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice {

class Progress {
 public:
  Progress(std::string label, uint64_t total_bytes, bool enabled);
  void Add(uint64_t bytes);
  void SetEvents(uint64_t events);
  void Done();

 private:
  void Draw(bool force);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  uint64_t events_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sluice
