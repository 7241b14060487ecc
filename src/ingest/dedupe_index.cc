#include "ingest/dedupe_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/crc32c.h"

namespace sluice {

namespace {

constexpr uint64_t kGenMask = 7;  // low bits of Slot::lo
static_assert(DedupeIndex::kGenerations == 8, "generation bits hold 0..7");
constexpr char kMagic[8] = {'S', 'L', 'D', 'D', 'U', 'P', '0', '1'};

struct Slot {
  uint64_t lo;  // fingerprint.lo with the generation in the low 3 bits
  uint64_t hi;  // fingerprint.hi; picks the home bucket
  bool empty() const { return lo == 0 && hi == 0; }
};
static_assert(sizeof(Slot) == 16);

// The key as stored, generation bits cleared. The all-zero key would read as an empty
// slot, so it is moved to another value (1 in 2^125 ids share it; harmless).
Slot KeyOf(const Fingerprint& fp) {
  Slot s{fp.lo & ~kGenMask, fp.hi};
  if (s.lo == 0 && s.hi == 0) s.hi = 1;
  return s;
}

struct SnapshotHeader {
  char magic[8];
  uint32_t version;
  uint32_t current_gen;
  uint64_t capacity;
  uint64_t size;
  uint64_t evicted;
  uint64_t log_offset;
  uint64_t gen_count[8];
};

}  // namespace

struct DedupeIndex::Impl {
  Slot* table = nullptr;
  uint64_t capacity = 0;
  uint64_t fill_limit = 0;  // 80% of capacity
  uint64_t per_gen = 0;     // fill_limit / kGenerations
  uint64_t size = 0;
  uint64_t evicted = 0;
  uint32_t current = 0;
  uint64_t gen_count[kGenerations] = {};

  explicit Impl(uint64_t slots) {
    // Any size, not only powers of two, so memory can match the window a user needs.
    capacity = std::max<uint64_t>(slots, 1024);
    fill_limit = capacity * 4 / 5;
    per_gen = fill_limit / kGenerations;
    // calloc of a large block maps zero pages lazily: unused capacity costs no RSS.
    table = static_cast<Slot*>(std::calloc(capacity, sizeof(Slot)));
    if (table == nullptr) std::abort();
  }
  ~Impl() { std::free(table); }

  // Home bucket: multiply-shift maps the uniform 64-bit hash onto [0, capacity).
  uint64_t Home(uint64_t hi) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(hi) * capacity) >> 64);
  }
  uint64_t Next(uint64_t i) const { return i + 1 == capacity ? 0 : i + 1; }

  // Index of the slot holding key, or of the empty slot where it would go.
  uint64_t Find(const Slot& key, bool* found) const {
    uint64_t i = Home(key.hi);
    while (true) {
      const Slot& s = table[i];
      if (s.empty()) {
        *found = false;
        return i;
      }
      if ((s.lo & ~kGenMask) == key.lo && s.hi == key.hi) {
        *found = true;
        return i;
      }
      i = Next(i);
    }
  }

  // Knuth's Algorithm R: close the hole at j by shifting back later members of its
  // cluster that may live there, so lookups never need tombstones.
  void RemoveAt(uint64_t j) {
    --gen_count[table[j].lo & kGenMask];
    --size;
    uint64_t i = j;
    while (true) {
      i = Next(i);
      if (table[i].empty()) break;
      const uint64_t home = Home(table[i].hi);
      // Move table[i] into the hole unless its home lies cyclically in (j, i].
      const bool stays = (j < i) ? (home > j && home <= i) : (home > j || home <= i);
      if (!stays) {
        table[j] = table[i];
        j = i;
      }
    }
    table[j] = Slot{0, 0};
  }

  void Place(uint64_t i, const Slot& key, uint32_t gen) {
    table[i] = Slot{key.lo | gen, key.hi};
    ++gen_count[gen];
    ++size;
  }

  // Forgets every id of generation g in one sweep. The sweep starts just after an empty
  // slot so no cluster wraps past its starting point.
  void Evict(uint32_t g) {
    uint64_t start = 0;
    while (!table[start].empty()) ++start;  // exists: the table is never full
    for (uint64_t k = 1; k <= capacity && gen_count[g] > 0; ++k) {
      const uint64_t i = (start + k) % capacity;
      while (!table[i].empty() && (table[i].lo & kGenMask) == g) {
        RemoveAt(i);
        ++evicted;
      }
    }
  }

  bool Insert(const Slot& key) {
    bool found;
    uint64_t i = Find(key, &found);
    if (found) return false;
    Place(i, key, current);
    if (gen_count[current] >= per_gen) {
      current = (current + 1) % kGenerations;
      if (gen_count[current] > 0) Evict(current);
    }
    return true;
  }
};

DedupeIndex::DedupeIndex(uint64_t capacity_slots) : impl_(new Impl(capacity_slots)) {}
DedupeIndex::~DedupeIndex() = default;

bool DedupeIndex::Insert(const Fingerprint& fp) { return impl_->Insert(KeyOf(fp)); }

bool DedupeIndex::Contains(const Fingerprint& fp) const {
  bool found;
  impl_->Find(KeyOf(fp), &found);
  return found;
}

void DedupeIndex::Erase(const Fingerprint& fp) {
  bool found;
  uint64_t i = impl_->Find(KeyOf(fp), &found);
  if (found) impl_->RemoveAt(i);
}

uint64_t DedupeIndex::size() const { return impl_->size; }
uint64_t DedupeIndex::capacity() const { return impl_->capacity; }
uint64_t DedupeIndex::memory_bytes() const { return impl_->capacity * sizeof(Slot); }
uint64_t DedupeIndex::evicted() const { return impl_->evicted; }
uint64_t DedupeIndex::guaranteed_window() const { return impl_->per_gen * (kGenerations - 1); }

std::unique_ptr<DedupeIndex> DedupeIndex::Clone() const {
  auto copy = std::make_unique<DedupeIndex>(impl_->capacity);
  Impl& c = *copy->impl_;
  std::memcpy(c.table, impl_->table, impl_->capacity * sizeof(Slot));
  c.size = impl_->size;
  c.evicted = impl_->evicted;
  c.current = impl_->current;
  std::memcpy(c.gen_count, impl_->gen_count, sizeof c.gen_count);
  return copy;
}

Status DedupeIndex::SaveSnapshot(const std::string& path, uint64_t log_offset) const {
  SnapshotHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = 1;
  h.current_gen = impl_->current;
  h.capacity = impl_->capacity;
  h.size = impl_->size;
  h.evicted = impl_->evicted;
  h.log_offset = log_offset;
  std::memcpy(h.gen_count, impl_->gen_count, sizeof h.gen_count);
  const char* table = reinterpret_cast<const char*>(impl_->table);
  const size_t table_bytes = impl_->capacity * sizeof(Slot);
  uint32_t crc = crc32c::Extend(crc32c::Value(reinterpret_cast<const char*>(&h), sizeof h), table,
                                table_bytes);
  crc = crc32c::Mask(crc);

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  auto write_all = [&](const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, std::min<size_t>(n, 64 << 20));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  bool ok = write_all(reinterpret_cast<const char*>(&h), sizeof h) &&
            write_all(table, table_bytes) &&
            write_all(reinterpret_cast<const char*>(&crc), sizeof crc) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return Status::FromErrno("write " + tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  const std::string dir = path.substr(0, path.find_last_of('/'));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

Result<uint64_t> DedupeIndex::LoadSnapshot(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no dedupe snapshot at " + path);
    return Status::FromErrno("open " + path, errno);
  }
  auto read_all = [&](char* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::read(fd, p, std::min<size_t>(n, 64 << 20));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  };
  SnapshotHeader h;
  auto corrupt = [&](const std::string& why) {
    ::close(fd);
    return Status::Corruption("dedupe snapshot " + path + ": " + why);
  };
  if (!read_all(reinterpret_cast<char*>(&h), sizeof h)) return corrupt("truncated header");
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.version != 1) return corrupt("bad magic");
  if (h.capacity < 1024 || h.capacity > (1ull << 36) || h.current_gen >= kGenerations) {
    return corrupt("bad header");
  }
  const size_t table_bytes = h.capacity * sizeof(Slot);
  Slot* table = static_cast<Slot*>(std::malloc(table_bytes));
  if (table == nullptr) return corrupt("cannot allocate the table");
  uint32_t stored_crc = 0;
  bool ok = read_all(reinterpret_cast<char*>(table), table_bytes) &&
            read_all(reinterpret_cast<char*>(&stored_crc), sizeof stored_crc);
  char extra;
  bool at_end = ok && ::read(fd, &extra, 1) == 0;
  uint32_t crc = crc32c::Extend(crc32c::Value(reinterpret_cast<const char*>(&h), sizeof h),
                                reinterpret_cast<const char*>(table), ok ? table_bytes : 0);
  if (!ok || !at_end || crc32c::Unmask(stored_crc) != crc) {
    std::free(table);
    return corrupt(ok && at_end ? "checksum mismatch" : "truncated or oversized");
  }
  ::close(fd);
  Impl& m = *impl_;
  if (h.capacity == m.capacity) {
    std::free(m.table);
    m.table = table;
    m.size = h.size;
    m.evicted = h.evicted;
    m.current = h.current_gen;
    std::memcpy(m.gen_count, h.gen_count, sizeof m.gen_count);
    return h.log_offset;
  }
  // The configured capacity changed: re-insert, oldest generation first, so that if the
  // new table is smaller it is the oldest ids that get evicted.
  std::memset(m.table, 0, m.capacity * sizeof(Slot));
  m.size = 0;
  std::memset(m.gen_count, 0, sizeof m.gen_count);
  m.current = 0;
  m.evicted = h.evicted;
  for (uint32_t k = 1; k <= kGenerations; ++k) {
    const uint32_t g = (h.current_gen + k) % kGenerations;
    for (uint64_t i = 0; i < h.capacity; ++i) {
      const Slot& s = table[i];
      if (!s.empty() && (s.lo & kGenMask) == g) m.Insert(Slot{s.lo & ~kGenMask, s.hi});
    }
  }
  std::free(table);
  return h.log_offset;
}

}  // namespace sluice
