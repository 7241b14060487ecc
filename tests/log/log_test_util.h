// Shared fixture for the log tests: a fresh directory per test, helpers to append and read
// back, and raw access to segment files so tests can damage them the way crashes and bad
// disks do.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "log/log.h"
#include "log/segment_writer.h"

namespace sluice::testing {

class LogTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-log-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    options_.dir = root_ + "/data/log";  // a missing parent too: Open creates both
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(root_);
  }

  // (Re)opens the log, asserting success.
  RecoveryReport Open() {
    log_.reset();
    RecoveryReport report;
    auto r = Log::Open(options_, &report);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) log_ = std::move(*r);
    return report;
  }
  void Close() { log_.reset(); }

  // Appends and waits until durable; returns the record's end offset.
  uint64_t Write(const std::string& payload, RecordType type = RecordType::kEventBatch) {
    auto r = log_->Append(type, payload);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return 0;
    Status s = log_->WaitDurable(*r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return *r;
  }

  // Writes n records of `size` bytes (Payload(0..n-1)), each durable before the next, so
  // each is its own commit round. Returns their end offsets; `payloads` gets the bytes.
  std::vector<uint64_t> WriteEach(int n, size_t size, std::vector<std::string>* payloads) {
    std::vector<uint64_t> ends;
    for (int i = 0; i < n; ++i) {
      payloads->push_back(Payload(i, size));
      ends.push_back(Write(payloads->back()));
    }
    return ends;
  }

  // Every durable record from `from` (default: the start), expecting no error.
  std::vector<std::string> ReadAll(uint64_t from = UINT64_MAX) {
    if (from == UINT64_MAX) from = log_->start_offset();
    auto reader = log_->NewReader(from);
    std::vector<std::string> out;
    LogRecord rec;
    Status st;
    while (reader->Next(&rec, &st)) out.emplace_back(rec.payload);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::vector<std::string> SegmentFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(options_.dir)) {
      if (e.path().extension() == ".seg") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  // A segment file's size without the zeros a direct write pads the active segment's last
  // block with (segment_writer.h). Test payloads never end in a zero byte.
  static uint64_t RecordBytes(const std::string& path) {
    const std::string bytes = ReadFile(path);
    size_t n = bytes.size();
    while (n > 0 && bytes[n - 1] == '\0' && bytes.size() - n + 1 < SegmentWriter::kBlock) --n;
    return n;
  }
  static void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
  }
  static void AppendToFile(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
  }
  static void FlipBit(const std::string& path, uint64_t pos, int bit = 0) {
    std::string bytes = ReadFile(path);
    ASSERT_LT(pos, bytes.size()) << path;
    bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << bit));
    WriteFile(path, bytes);
  }

  // Deterministic, distinguishable payloads.
  static std::string Payload(int i, size_t n) {
    std::string s(n, '\0');
    for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>('a' + (i * 31 + k * 7) % 26);
    return s;
  }

  std::string root_;
  LogOptions options_;
  std::unique_ptr<Log> log_;
};

}  // namespace sluice::testing
