#include "ingest/dedupe_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "common/crc32c.h"

namespace sluice {

namespace {

constexpr uint64_t kGenMask = 7;  // low bits of Slot::lo
static_assert(DedupeIndex::kGenerations == 8, "generation bits hold 0..7");
constexpr uint64_t kMinSlots = 1024;
// Refuses snapshot headers that claim more than 1 TiB of table, before allocating it.
constexpr uint64_t kMaxSlots = 1ull << 36;
constexpr char kMagic[8] = {'S', 'L', 'D', 'D', 'U', 'P', '0', '1'};
// 1: the whole table; 2: a bitmap of occupied slots and their contents (Image).
constexpr uint32_t kVersion = 2;

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

// On 2 MiB pages where the kernel allows it (THP "madvise" mode, Debian's default): every
// insert lands on a random slot, and with 4 KiB pages each one was also a TLB miss, a
// two-level page walk under virtualization, which cost more than the cache miss itself
// (steady-state insert 416 -> 301 ns, filling a fresh 10M-id table 7.6 -> 8.8M ids/s).
// An earlier measurement on another host saw fresh fills halve, from huge-page faults on
// the insert path; so the mapping is cut to a 2 MiB boundary (all of it can be huge) and
// touched once here, which moves every fault, zeroing and compaction to construction
// (0.04-0.5 s for the default 256 MiB, the most when memory must be compacted first)
// instead of under the ingestor's lock (Ingestor::Snapshot builds its copy outside it).
Slot* AllocTable(uint64_t slots) {
  constexpr size_t kHuge = 2u << 20;
  const size_t bytes = slots * sizeof(Slot);
  const size_t padded = bytes + kHuge;
  void* p = ::mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + kHuge - 1) & ~(uintptr_t{kHuge} - 1);
  if (start > base) ::munmap(p, start - base);
  // munmap works in whole pages; FreeTable's munmap(table, bytes) rounds up the same way.
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t tail = start + (bytes + page - 1) / page * page;
  const uintptr_t end = base + padded;
  if (end > tail) ::munmap(reinterpret_cast<void*>(tail), end - tail);
  ::madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);  // advice: failure is fine
  volatile char* touch = reinterpret_cast<char*>(start);
  for (size_t off = 0; off < bytes; off += page) touch[off] = 0;
  return reinterpret_cast<Slot*>(start);
}
void FreeTable(Slot* table, uint64_t slots) {
  if (table != nullptr) ::munmap(table, slots * sizeof(Slot));
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
static_assert(sizeof(SnapshotHeader) == 112, "no padding: the header is checksummed raw");

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, std::min<size_t>(n, 64 << 20));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, std::min<size_t>(n, 64 << 20));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

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
    capacity = std::max(slots, kMinSlots);
    fill_limit = capacity * 4 / 5;
    per_gen = fill_limit / kGenerations;
    table = AllocTable(capacity);
    if (table == nullptr) std::abort();  // like operator new: memory is configured up front
  }
  ~Impl() { FreeTable(table, capacity); }

  // Home bucket: multiply-shift maps the uniform 64-bit hash onto [0, capacity).
  uint64_t Home(uint64_t hi) const {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(hi) * capacity) >> 64);
  }
  uint64_t Next(uint64_t i) const { return i + 1 == capacity ? 0 : i + 1; }

  // Index of the slot holding key, or of the empty slot where it would go. Terminates
  // because at most 80% of the slots are ever used.
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

  // Forgets every id of generation g in one pass. Calling RemoveAt per id would rescan
  // the rest of the cluster for each of them (clusters are long at 80% fill); instead
  // each survivor that follows a removal in its cluster moves back to the first empty
  // slot at or after its home, which is exactly where inserting it now would put it.
  // The pass starts just after an empty slot, so clusters are seen whole even when they
  // wrap around the end of the table, and entries only ever move to slots already passed.
  void Evict(uint32_t g) {
    uint64_t start = 0;
    while (!table[start].empty()) ++start;  // exists: the table is never full
    bool holed = false;                     // the current cluster lost an entry
    uint64_t r = start;
    for (uint64_t k = 1; k < capacity; ++k) {
      r = Next(r);
      Slot& s = table[r];
      if (s.empty()) {  // never a slot emptied by this pass: those are all behind r
        if (gen_count[g] == 0) break;
        holed = false;
      } else if ((s.lo & kGenMask) == g) {
        s = Slot{0, 0};
        --gen_count[g];
        --size;
        ++evicted;
        holed = true;
      } else if (holed) {
        uint64_t q = Home(s.hi);
        while (q != r && !table[q].empty()) q = Next(q);
        if (q != r) {
          table[q] = s;
          s = Slot{0, 0};
        }
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

void DedupeIndex::Prefetch(const Fingerprint& fp) const {
  __builtin_prefetch(&impl_->table[impl_->Home(KeyOf(fp).hi)], /*rw=*/1);
}

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
// Right after a generation turns over, the current one is empty and the other seven are
// full: per_gen * 7, a little under fill_limit * 7/8 when fill_limit is not a multiple of 8.
uint64_t DedupeIndex::guaranteed_window() const { return impl_->per_gen * (kGenerations - 1); }

namespace {

// Fills `img`'s bitmap and slot list from a table of `capacity` slots; `img->size` must
// already hold the number of occupied slots. Reuses the vectors' memory.
void ScanTable(const Slot* table, uint64_t capacity, DedupeIndex::Image* img) {
  const uint64_t words = (capacity + 63) / 64;
  img->occupied.assign(words, 0);
  img->slots.resize(2 * img->size);
  uint64_t* out = img->slots.data();
  uint64_t k = 0;
  // Per 64 slots: the occupancy bits first, without branches, then a copy of the set
  // ones. A branch per slot mispredicted at ~60% fill: 58 ms for 10M ids in 2^24 slots,
  // 49 ms this way (a 256 MiB memcpy, the copy this replaced, takes ~33 ms). The bit pass
  // is bound by reading the table: SSE2 compares measured no faster.
  for (uint64_t w = 0; w < words; ++w) {
    const Slot* t = table + w * 64;
    const uint64_t n = std::min<uint64_t>(64, capacity - w * 64);
    uint64_t bits = 0;
    for (uint64_t j = 0; j < n; ++j) bits |= uint64_t{(t[j].lo | t[j].hi) != 0} << j;
    img->occupied[w] = bits;
    if (k + 2 * static_cast<uint64_t>(__builtin_popcountll(bits)) > img->slots.size()) {
      std::abort();  // size disagrees with the table: a bug
    }
    for (; bits != 0; bits &= bits - 1, k += 2) {
      const Slot& s = t[__builtin_ctzll(bits)];
      out[k] = s.lo;
      out[k + 1] = s.hi;
    }
  }
  img->slots.resize(k);
}

// Writes `parts` to path.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
Status WriteDurably(const std::string& path, std::initializer_list<std::string_view> parts) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  bool ok = true;
  for (std::string_view part : parts) ok = ok && WriteAll(fd, part.data(), part.size());
  ok = ok && ::fdatasync(fd) == 0;
  const int err = ok ? 0 : (errno != 0 ? errno : EIO);
  if (::close(fd) != 0 && ok) return Status::FromErrno("close " + tmp, errno);
  if (!ok) {
    ::unlink(tmp.c_str());  // a half-written temp file would only waste disk
    return Status::FromErrno("write " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  // The rename is durable only once the directory entry is.
  const std::string dir = DirOf(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::FromErrno("open " + dir, errno);
  const bool synced = ::fsync(dfd) == 0;
  const int derr = errno;
  ::close(dfd);
  if (!synced) return Status::FromErrno("fsync " + dir, derr);
  return Status::OK();
}

template <typename T>
std::string_view BytesOf(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

}  // namespace

void DedupeIndex::Export(Image* img) const {
  const Impl& m = *impl_;
  img->capacity = m.capacity;
  img->size = m.size;
  img->evicted = m.evicted;
  img->current_gen = m.current;
  std::memcpy(img->gen_count, m.gen_count, sizeof img->gen_count);
  ScanTable(m.table, m.capacity, img);
}

Status DedupeIndex::WriteSnapshot(const Image& img, const std::string& path, uint64_t log_offset) {
  if (img.occupied.size() != (img.capacity + 63) / 64 || img.slots.size() != 2 * img.size) {
    return Status::InvalidArgument("dedupe image is inconsistent");
  }
  SnapshotHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.current_gen = img.current_gen;
  h.capacity = img.capacity;
  h.size = img.size;
  h.evicted = img.evicted;
  h.log_offset = log_offset;
  std::memcpy(h.gen_count, img.gen_count, sizeof h.gen_count);
  const std::string_view header(reinterpret_cast<const char*>(&h), sizeof h);
  const std::string_view bitmap = BytesOf(img.occupied), slots = BytesOf(img.slots);
  uint32_t crc = crc32c::Value(header.data(), header.size());
  crc = crc32c::Extend(crc, bitmap.data(), bitmap.size());
  crc = crc32c::Mask(crc32c::Extend(crc, slots.data(), slots.size()));
  return WriteDurably(path, {header, bitmap, slots,
                             std::string_view(reinterpret_cast<const char*>(&crc), sizeof crc)});
}

Status DedupeIndex::SaveSnapshot(const std::string& path, uint64_t log_offset) const {
  Image img;
  Export(&img);
  return WriteSnapshot(img, path, log_offset);
}

Result<uint64_t> DedupeIndex::LoadSnapshot(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no dedupe snapshot at " + path);
    return Status::FromErrno("open " + path, errno);
  }
  auto corrupt = [&](const std::string& why) {
    if (fd >= 0) ::close(fd);
    return Status::Corruption("dedupe snapshot " + path + ": " + why);
  };
  SnapshotHeader h;
  if (!ReadAll(fd, reinterpret_cast<char*>(&h), sizeof h)) return corrupt("truncated header");
  if (std::memcmp(h.magic, kMagic, 8) != 0 || (h.version != 1 && h.version != kVersion)) {
    return corrupt("bad magic");
  }
  // Checked before allocating, so a damaged header cannot ask for a huge table.
  if (h.capacity < kMinSlots || h.capacity > kMaxSlots || h.current_gen >= kGenerations ||
      h.size > h.capacity * 4 / 5) {
    return corrupt("bad header");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  const uint64_t words = (h.capacity + 63) / 64;
  const uint64_t body = h.version == 1 ? h.capacity * sizeof(Slot) : words * 8 + h.size * 16;
  if (static_cast<uint64_t>(st.st_size) != sizeof h + body + sizeof(uint32_t)) {
    return corrupt("truncated or oversized");
  }
  Image img;
  img.capacity = h.capacity;
  img.size = h.size;
  img.evicted = h.evicted;
  img.current_gen = h.current_gen;
  std::memcpy(img.gen_count, h.gen_count, sizeof img.gen_count);
  uint32_t crc = crc32c::Value(reinterpret_cast<const char*>(&h), sizeof h);
  uint32_t stored_crc = 0;
  if (h.version == 1) {
    // The whole table. Its occupied slots are counted here, so that a size in the header
    // that disagrees is refused below instead of tripping ScanTable.
    Slot* table = AllocTable(h.capacity);
    if (table == nullptr) return corrupt("cannot allocate the table");
    const bool read = ReadAll(fd, reinterpret_cast<char*>(table), body) &&
                      ReadAll(fd, reinterpret_cast<char*>(&stored_crc), sizeof stored_crc);
    crc = crc32c::Extend(crc, reinterpret_cast<const char*>(table), read ? body : 0);
    uint64_t occupied = 0;
    for (uint64_t i = 0; read && i < h.capacity; ++i) occupied += table[i].empty() ? 0 : 1;
    if (read && occupied == h.size) ScanTable(table, h.capacity, &img);
    FreeTable(table, h.capacity);
    if (!read) return corrupt("truncated");
    if (crc32c::Unmask(stored_crc) != crc) return corrupt("checksum mismatch");
    if (occupied != h.size) return corrupt("counts disagree with the table");
  } else {
    img.occupied.resize(words);
    img.slots.resize(2 * h.size);
    if (!ReadAll(fd, reinterpret_cast<char*>(img.occupied.data()), words * 8) ||
        !ReadAll(fd, reinterpret_cast<char*>(img.slots.data()), h.size * 16) ||
        !ReadAll(fd, reinterpret_cast<char*>(&stored_crc), sizeof stored_crc)) {
      return corrupt("truncated");
    }
    crc = crc32c::Extend(crc, reinterpret_cast<const char*>(img.occupied.data()), words * 8);
    crc = crc32c::Extend(crc, reinterpret_cast<const char*>(img.slots.data()), h.size * 16);
    if (crc32c::Unmask(stored_crc) != crc) return corrupt("checksum mismatch");
  }
  ::close(fd);
  fd = -1;

  // The counts drive eviction and the fill limit; an image that disagrees with them (a
  // bug in whatever wrote it) could fill the table up and make lookups loop, so it is
  // refused.
  uint64_t bits = 0;
  for (uint64_t w = 0; w < words; ++w)
    bits += static_cast<uint64_t>(__builtin_popcountll(img.occupied[w]));
  const uint64_t tail = h.capacity % 64;
  if (tail != 0 && (img.occupied[words - 1] >> tail) != 0) return corrupt("slot past the table");
  uint64_t counted[kGenerations] = {};
  for (uint64_t k = 0; k < img.slots.size(); k += 2) {
    // The key with its generation bits cleared is never zero (KeyOf): such a slot would
    // read as empty once placed, or be stored as one by the re-insert below.
    if ((img.slots[k] & ~kGenMask) == 0 && img.slots[k + 1] == 0) {
      return corrupt("empty slot in the image");
    }
    ++counted[img.slots[k] & kGenMask];
  }
  if (bits != h.size || std::memcmp(counted, h.gen_count, sizeof counted) != 0) {
    return corrupt("counts disagree with the table");
  }
  // Placed as they are, no generation may hold more than an Insert ever lets it: more
  // would let the generations fill past the fill limit before any eviction, and a full
  // table makes Find loop (the checksum is not a defence against a rewritten file).
  Impl& m = *impl_;
  if (h.capacity == m.capacity) {
    for (int g = 0; g < kGenerations; ++g) {
      if (h.gen_count[g] > m.per_gen) return corrupt("a generation holds too many ids");
    }
  }

  // The table already mapped is reused: mapping and faulting a second one while the
  // first is held cost 0.49 s at startup (2^24 slots; huge pages had to be compacted),
  // clearing it costs nothing when it is fresh and ~25 ms when it is not.
  Slot* table = m.table;
  if (m.size != 0) std::memset(table, 0, m.capacity * sizeof(Slot));
  m.evicted = h.evicted;
  if (h.capacity == m.capacity) {
    uint64_t k = 0;
    for (uint64_t w = 0; w < words; ++w) {
      for (uint64_t b = img.occupied[w]; b != 0; b &= b - 1, k += 2) {
        table[w * 64 + static_cast<uint64_t>(__builtin_ctzll(b))] =
            Slot{img.slots[k], img.slots[k + 1]};
      }
    }
    m.size = h.size;
    m.current = h.current_gen;
    std::memcpy(m.gen_count, h.gen_count, sizeof m.gen_count);
    return h.log_offset;
  }
  // The configured capacity changed: re-insert, oldest generation first, so that if the
  // new table is smaller it is the oldest ids that get evicted.
  m.size = 0;
  std::memset(m.gen_count, 0, sizeof m.gen_count);
  m.current = 0;
  for (uint32_t k = 1; k <= kGenerations; ++k) {
    const uint32_t g = (h.current_gen + k) % kGenerations;
    for (uint64_t i = 0; i < img.slots.size(); i += 2) {
      if ((img.slots[i] & kGenMask) == g)
        m.Insert(Slot{img.slots[i] & ~kGenMask, img.slots[i + 1]});
    }
  }
  return h.log_offset;
}

}  // namespace sluice
