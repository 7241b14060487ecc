// RollupConsumer (rollup_consumer.h): batches of log records folded into rollup cells and
// committed with the consumer offset; definitions registered and backfilled in between.
#include "rollup/rollup_consumer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <future>

#include "common/clock.h"
#include "common/thread_name.h"
#include "ingest/connector_batch.h"
#include "ingest/event_codec.h"
#include "rollup/rollup_table.h"
#include "store/events_view.h"

namespace sluice {

namespace {

std::string GenerationKey(const std::string& tenant, const std::string& metric) {
  return tenant + '\0' + metric;
}

// Calls fn for every event a log record carries. The one place that knows which record
// types hold events: a new type is one more case here.
// The events are views into the record: nothing is copied per event (this consumer reads
// every event the store consumer reads, so its per-event cost is the rollups' price).
template <typename Fn>
Status ForEachEventOfRecord(const LogRecord& rec, Fn&& fn) {
  switch (rec.type) {
    case RecordType::kEventBatch:
    case RecordType::kConnectorBatch: {
      // A connector's page carries its events after the checkpoint (connector_batch.h).
      std::string_view payload = rec.payload;
      if (rec.type == RecordType::kConnectorBatch) {
        ConnectorCheckpoint cp;
        SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &cp, &payload));
      }
      EventBatchReader batch(payload);
      EventView e;
      Status st;
      while (batch.Next(&e, &st)) fn(e);
      if (!st.ok()) {
        return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                                  st.ToString());
      }
      return Status::OK();
    }
    case RecordType::kDeadLetter:  // events a schema refused: never counted
      return Status::OK();
    default:
      spdlog::warn("rollup consumer: skipping log record of unknown type {} at offset {}",
                   static_cast<int>(rec.type), rec.offset);
      return Status::OK();
  }
}

// The store consumer's committed offset: the backfill may only start once the store holds
// every event logged before a definition's start_offset.
Result<uint64_t> StoreOffset(duck::Connection& con) {
  auto v = StoreConsumerOffset(con);
  if (!v.ok()) return v.status();
  return v->value_or(0);
}

}  // namespace

RollupConsumerOptions RollupOptionsFromConfig(const Config& config) {
  RollupConsumerOptions o;
  o.batch_ms = config.rollup_batch_ms;
  for (const auto& m : config.metrics) o.global_metrics.push_back(m);
  return o;
}

void RollupConsumer::InstallCrashHookFromEnv() {
  const char* at = std::getenv("SLUICE_TEST_ROLLUP_EXIT_BEFORE_COMMIT");
  if (at == nullptr) return;
  const int n = std::atoi(at);
  auto commits = std::make_shared<int>(0);
  SetBeforeCommitHookForTest([n, commits]() -> Status {
    if (++*commits >= n) {
      spdlog::warn("SLUICE_TEST_ROLLUP_EXIT_BEFORE_COMMIT: exiting before commit {}", *commits);
      spdlog::default_logger()->flush();
      _exit(9);
    }
    return Status::OK();
  });
}

RollupConsumer::RollupConsumer(Log* log, EventStore* store, RollupConsumerOptions options)
    : log_(log), store_(store), options_(std::move(options)) {}

RollupConsumer::~RollupConsumer() { Stop(); }

Status RollupConsumer::Init() {
  if (initialized_) return Status::OK();
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  con_ = std::move(*con);
  SLUICE_RETURN_IF_ERROR(CreateRollupSchema(con_));
  auto registered = log_->RegisterConsumer(kName);
  if (!registered.ok()) return registered.status();
  auto r = con_.Query("SELECT log_offset FROM rollups.consumer_offsets WHERE name = 'rollup'");
  if (!r.ok()) return r.status();
  auto committed = r->FirstUInt64();
  if (!committed.ok()) return committed.status();
  offset_ = committed->value_or(0);
  const uint64_t start = log_->start_offset(), end = log_->end_offset();
  if (offset_ < start) {
    if (offset_ != 0) {
      spdlog::error(
          "rollups are at log offset {} but the log starts at {}: events in between are "
          "missing from metrics",
          offset_, start);
    }
    offset_ = start;
  } else if (offset_ > end) {
    spdlog::error("rollups are at log offset {} beyond the log's end {}: resuming at the end",
                  offset_, end);
    offset_ = end;
  }
  SLUICE_RETURN_IF_ERROR(log_->CommitConsumerOffset(kName, offset_));
  SLUICE_RETURN_IF_ERROR(ReconcileGlobalMetrics());
  reader_ = log_->NewReader(offset_);
  applied_.store(offset_, std::memory_order_release);
  initialized_ = true;
  return Status::OK();
}

// Brings the every-tenant definitions in line with built-ins + config: a new metric is
// registered at the current offset (and backfilled), a changed one is rebuilt, a removed
// one is dropped with its rollups. One transaction.
Status RollupConsumer::ReconcileGlobalMetrics() {
  auto stored = LoadMetricDefinitions(con_);
  if (!stored.ok()) return stored.status();
  std::vector<MetricDefinition> defs;
  SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
  Status s = [&]() -> Status {
    for (auto& d : *stored) {
      if (!d.metric.tenant.empty()) {
        defs.push_back(std::move(d));
        continue;
      }
      auto it = std::find_if(options_.global_metrics.begin(), options_.global_metrics.end(),
                             [&](const MetricSpec& m) { return m.name == d.metric.spec.name; });
      if (it != options_.global_metrics.end() && *it == d.metric.spec) {
        defs.push_back(std::move(d));
        continue;
      }
      spdlog::warn("metric '{}' {} the configuration: dropping its rollups", d.metric.spec.name,
                   it == options_.global_metrics.end() ? "is no longer in" : "changed in");
      SLUICE_RETURN_IF_ERROR(DropMetric(con_, d));
    }
    for (const auto& spec : options_.global_metrics) {
      if (std::any_of(defs.begin(), defs.end(), [&](const MetricDefinition& d) {
            return d.metric.tenant.empty() && d.metric.spec.name == spec.name;
          })) {
        continue;
      }
      MetricDefinition d;
      d.metric.spec = spec;
      d.start_offset = offset_;
      SLUICE_RETURN_IF_ERROR(SaveMetricDefinition(con_, d));
      defs.push_back(std::move(d));
    }
    return con_.Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)con_.Exec("ROLLBACK");
    return s;
  }
  std::lock_guard<std::mutex> lock(defs_mu_);
  defs_ = std::move(defs);
  return Status::OK();
}

std::vector<ActiveMetric> RollupConsumer::ActiveMetrics() const {
  std::lock_guard<std::mutex> lock(defs_mu_);
  std::vector<ActiveMetric> out;
  out.reserve(defs_.size());
  for (const auto& d : defs_) out.push_back(d.metric);
  return out;
}

std::vector<MetricDefinition> RollupConsumer::Definitions(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(defs_mu_);
  std::vector<MetricDefinition> out;
  for (const auto& d : defs_) {
    if (d.metric.tenant.empty() || d.metric.tenant == tenant) out.push_back(d);
  }
  return out;
}

std::optional<MetricSpec> RollupConsumer::Find(const std::string& tenant,
                                               const std::string& name) const {
  std::lock_guard<std::mutex> lock(defs_mu_);
  for (const auto& d : defs_) {
    if ((d.metric.tenant.empty() || d.metric.tenant == tenant) && d.metric.spec.name == name) {
      return d.metric.spec;
    }
  }
  return std::nullopt;
}

uint64_t RollupConsumer::Generation(const std::string& tenant, const std::string& metric) const {
  std::lock_guard<std::mutex> lock(defs_mu_);
  auto it = generations_.find(GenerationKey(tenant, metric));
  return it == generations_.end() ? 0 : it->second;
}

void RollupConsumer::BumpGenerations(const CellMap& minutes, bool all_closed) {
  // A window is closed once its minute is over; results over closed windows may be cached,
  // so a commit that changes one must invalidate them (query_cache.h).
  const int64_t open_from = FloorTo(NowMicros(), kMinuteUs);
  std::lock_guard<std::mutex> lock(defs_mu_);
  for (const auto& [key, cell] : minutes) {
    if (all_closed || key.bucket_us < open_from)
      ++generations_[GenerationKey(key.tenant, key.metric)];
  }
}

Status RollupConsumer::Commit(const CellMap& minutes, const MetricDefinition* progress,
                              uint64_t new_offset) {
  SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
  Status s = MergeCells(con_, kMinuteUs, minutes);
  if (s.ok()) s = MergeCells(con_, kHourUs, Coarsen(minutes, kHourUs));
  if (s.ok() && progress != nullptr) s = SaveMetricDefinition(con_, *progress);
  if (s.ok() && progress == nullptr) {
    s = con_.Exec(
        "INSERT OR REPLACE INTO rollups.consumer_offsets (name, log_offset) VALUES ('rollup', " +
        std::to_string(new_offset) + ")");
  }
  if (s.ok() && before_commit_) s = before_commit_();
  if (s.ok()) s = con_.Exec("COMMIT");
  if (!s.ok()) (void)con_.Exec("ROLLBACK");  // see event_store.h: COMMIT may not have failed loudly
  return s;
}

Status RollupConsumer::Step(bool wait_for_more, bool* idle) {
  const std::vector<ActiveMetric> metrics = ActiveMetrics();
  CellMap minutes;
  simdjson::dom::parser parser;
  uint64_t batch_end = offset_, events = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.batch_ms);
  LogRecord rec;
  Status st;
  while (events < options_.batch_events) {
    if (reader_->Next(&rec, &st)) {
      SLUICE_RETURN_IF_ERROR(ForEachEventOfRecord(rec, [&](const EventView& e) {
        EventRow row{e.tenant, e.type, e.ts_us, e.user_id, e.anonymous_id, e.properties, e.source};
        AddEvent(metrics, &parser, row, &minutes);
        ++events;
      }));
      batch_end = reader_->position();
      continue;
    }
    if (!st.ok()) return st;
    if (batch_end == offset_) break;
    if (!wait_for_more || stop_.load() || std::chrono::steady_clock::now() >= deadline) break;
    SleepFor(std::min(2, options_.batch_ms));
  }
  *idle = batch_end == offset_;
  if (*idle) return Status::OK();
  SLUICE_RETURN_IF_ERROR(Commit(minutes, nullptr, batch_end));
  offset_ = batch_end;
  applied_.store(offset_, std::memory_order_release);
  events_.fetch_add(events, std::memory_order_relaxed);
  BumpGenerations(minutes, /*all_closed=*/false);
  Status s = log_->CommitConsumerOffset(kName, offset_);
  if (s.ok()) s = log_->CollectGarbage();
  if (!s.ok()) spdlog::warn("rollup consumer: {}", s.ToString());
  return Status::OK();
}

Status RollupConsumer::BackfillStep(bool* did_work) {
  *did_work = false;
  MetricDefinition d;
  {
    std::lock_guard<std::mutex> lock(defs_mu_);
    auto it = std::find_if(defs_.begin(), defs_.end(),
                           [](const MetricDefinition& x) { return !x.backfill_done; });
    if (it == defs_.end()) return Status::OK();
    d = *it;
  }
  auto store_offset = StoreOffset(con_);
  if (!store_offset.ok()) return store_offset.status();
  if (*store_offset < d.start_offset) return Status::OK();  // the store is still catching up
  *did_work = true;
  // Events logged at or after start_offset are the live consumer's; exclude them by the
  // log offset the store recorded for each hot row.
  // Within a chunk the subquery is bounded by the chunk's times too (an event has the same
  // ts in both places), so zone maps keep it from scanning the whole hot table each time.
  auto exclude = [&](const std::string& time_range) {
    return " WHERE NOT EXISTS (SELECT 1 FROM events_hot h WHERE h.tenant = v.tenant AND "
           "h.event_id = v.event_id AND h.log_offset >= " +
           std::to_string(d.start_offset) + time_range + ")";
  };
  std::string types;
  for (const auto& t : d.metric.spec.event_types)
    types += (types.empty() ? "" : ", ") + SqlQuote(t);
  const std::string type_filter = types.empty() ? "" : " AND v.type IN (" + types + ")";
  CellMap minutes;
  uint64_t events = 0;
  Status s = store_->WithEventsView(
      d.metric.tenant, [&](duck::Connection& con, const std::string& view) -> Status {
        if (d.backfill_end_us == INT64_MIN) {
          auto r =
              con.Query("SELECT count(*)::UBIGINT, min(epoch_us(ts)), max(epoch_us(ts)) FROM (" +
                        view + ") v" + exclude("") + type_filter);
          if (!r.ok()) return r.status();
          Status cs;
          duck::DataChunk c = r->FetchChunk(&cs);
          if (!cs.ok()) return cs;
          if (!c || static_cast<const uint64_t*>(duckdb_vector_get_data(c.column(0)))[0] == 0) {
            d.backfill_done = true;
            return Status::OK();
          }
          d.backfill_cursor_us =
              FloorTo(static_cast<const int64_t*>(duckdb_vector_get_data(c.column(1)))[0], kHourUs);
          d.backfill_end_us = static_cast<const int64_t*>(duckdb_vector_get_data(c.column(2)))[0];
        }
        const int64_t lo = d.backfill_cursor_us, hi = lo + backfill_width_us_;
        const std::string range = " AND {0}.ts >= make_timestamp(" + std::to_string(lo) +
                                  ") AND {0}.ts < make_timestamp(" + std::to_string(hi) + ")";
        auto in = [&](const char* alias) {
          std::string r = range;
          for (size_t p; (p = r.find("{0}")) != std::string::npos;) r.replace(p, 3, alias);
          return r;
        };
        auto r = con.Query(
            "SELECT v.tenant, v.type, epoch_us(v.ts), v.user_id, v.anonymous_id, v.properties, "
            "v.source FROM (" +
            view + ") v" + exclude(in("h")) + type_filter + in("v"));
        if (!r.ok()) return r.status();
        const std::vector<ActiveMetric> one = {d.metric};
        simdjson::dom::parser parser;
        while (true) {
          Status cs;
          duck::DataChunk c = r->FetchChunk(&cs);
          if (!cs.ok()) return cs;
          if (!c) break;
          auto* ts = static_cast<const int64_t*>(duckdb_vector_get_data(c.column(2)));
          for (idx_t i = 0; i < c.size(); ++i) {
            auto str = [&](idx_t col) {
              return duck::IsValid(c.column(col), i) ? duck::GetString(c.column(col), i)
                                                     : std::string_view();
            };
            EventRow row{str(0), str(1), ts[i], str(3), str(4), str(5), str(6)};
            AddEvent(one, &parser, row, &minutes);
            ++events;
          }
        }
        d.backfill_cursor_us = hi;
        if (events == 0 && hi <= d.backfill_end_us) {
          // Skip empty stretches in one step: history is often sparse (a few late days).
          auto next =
              con.Query("SELECT min(epoch_us(ts)) FROM (" + view + ") v" + exclude("") +
                        type_filter + " AND v.ts >= make_timestamp(" + std::to_string(hi) + ")");
          if (!next.ok()) return next.status();
          Status ns;
          duck::DataChunk n = next->FetchChunk(&ns);
          if (!ns.ok()) return ns;
          if (!n || !duck::IsValid(n.column(0), 0)) {
            d.backfill_cursor_us = d.backfill_end_us + 1;
          } else {
            d.backfill_cursor_us = std::max(
                hi, FloorTo(static_cast<const int64_t*>(duckdb_vector_get_data(n.column(0)))[0],
                            kHourUs));
          }
        }
        d.backfill_done = d.backfill_cursor_us > d.backfill_end_us;
        return Status::OK();
      });
  if (!s.ok()) return s;
  d.backfill_events += events;
  // Aim for chunks of 50K-500K events: small enough to keep live batches flowing between
  // them, large enough that per-chunk overhead does not dominate sparse history.
  if (events < 50000) backfill_width_us_ = std::min(backfill_width_us_ * 2, 32 * 24 * kHourUs);
  if (events > 500000) backfill_width_us_ = std::max(backfill_width_us_ / 2, kMinuteUs);
  SLUICE_RETURN_IF_ERROR(Commit(minutes, &d, offset_));
  BumpGenerations(minutes, /*all_closed=*/true);
  if (d.backfill_done) {
    spdlog::info("metric '{}': backfill done, {} stored events", d.metric.spec.name,
                 d.backfill_events);
  }
  std::lock_guard<std::mutex> lock(defs_mu_);
  for (auto& x : defs_) {
    if (x.metric.tenant == d.metric.tenant && x.metric.spec.name == d.metric.spec.name) x = d;
  }
  return Status::OK();
}

Status RollupConsumer::RunOnConsumerThread(std::function<Status()> fn) {
  if (!running_.load()) {
    SLUICE_RETURN_IF_ERROR(Init());
    return fn();
  }
  if (stop_.load()) return Status::Unavailable("rollups are shutting down");
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back([fn = std::move(fn), done] { done->set_value(fn()); });
  }
  cv_.notify_all();
  return result.get();
}

void RollupConsumer::RunPendingTasks() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

Result<MetricDefinition> RollupConsumer::Define(const std::string& tenant, const MetricSpec& spec) {
  SLUICE_RETURN_IF_ERROR(ValidateMetricSpec(spec));
  MetricDefinition d;
  Status s = RunOnConsumerThread([&]() -> Status {
    if (Find(tenant, spec.name)) {
      return Status::InvalidArgument("metric '" + spec.name + "' already exists");
    }
    d.metric.tenant = tenant;
    d.metric.spec = spec;
    d.start_offset = offset_;  // between batches: everything before is committed
    SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
    Status w = SaveMetricDefinition(con_, d);
    if (w.ok()) w = con_.Exec("COMMIT");
    if (!w.ok()) {
      (void)con_.Exec("ROLLBACK");
      return w;
    }
    std::lock_guard<std::mutex> lock(defs_mu_);
    defs_.push_back(d);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return d;
}

Status RollupConsumer::Drop(const std::string& tenant, const std::string& name) {
  return RunOnConsumerThread([&]() -> Status {
    MetricDefinition d;
    {
      std::lock_guard<std::mutex> lock(defs_mu_);
      auto it = std::find_if(defs_.begin(), defs_.end(), [&](const MetricDefinition& x) {
        return (x.metric.tenant.empty() || x.metric.tenant == tenant) && x.metric.spec.name == name;
      });
      if (it == defs_.end()) return Status::NotFound("no metric named '" + name + "'");
      if (it->metric.tenant.empty()) {
        return Status::InvalidArgument("metric '" + name +
                                       "' is built in or defined in the config file");
      }
      d = *it;
    }
    SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
    Status w = DropMetric(con_, d);
    if (w.ok()) w = con_.Exec("COMMIT");
    if (!w.ok()) {
      (void)con_.Exec("ROLLBACK");
      return w;
    }
    std::lock_guard<std::mutex> lock(defs_mu_);
    defs_.erase(std::remove_if(defs_.begin(), defs_.end(),
                               [&](const MetricDefinition& x) {
                                 return x.metric.tenant == tenant && x.metric.spec.name == name;
                               }),
                defs_.end());
    ++generations_[GenerationKey(tenant, name)];
    return Status::OK();
  });
}

Status RollupConsumer::Start() {
  SLUICE_RETURN_IF_ERROR(Init());
  running_.store(true);
  thread_ = std::thread([this] {
    SetCurrentThreadName("rollup");
    Loop();
  });
  return Status::OK();
}

void RollupConsumer::Loop() {
  int failures = 0;
  while (!stop_.load()) {
    RunPendingTasks();
    bool idle = false, backfilled = false;
    Status s = Step(/*wait_for_more=*/true, &idle);
    if (s.ok()) s = BackfillStep(&backfilled);
    if (!s.ok()) {
      const int backoff_ms = std::min(5000, 100 << std::min(failures++, 6));
      spdlog::error("rollup consumer at log offset {}: {} (retrying in {} ms)", offset_,
                    s.ToString(), backoff_ms);
      SleepFor(backoff_ms);
      reader_ = log_->NewReader(offset_);
      continue;
    }
    failures = 0;
    if (idle && !backfilled) SleepFor(options_.idle_poll_ms);
  }
  // Answer anything queued after the last pass so no caller waits forever.
  RunPendingTasks();
}

void RollupConsumer::SleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms),
               [this] { return stop_.load() || !tasks_.empty(); });
}

void RollupConsumer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  running_.store(false);
}

Status RollupConsumer::RunUntilCaughtUp() {
  SLUICE_RETURN_IF_ERROR(Init());
  while (true) {
    bool idle = false;
    SLUICE_RETURN_IF_ERROR(Step(/*wait_for_more=*/false, &idle));
    if (idle) break;
  }
  while (true) {
    bool did = false;
    SLUICE_RETURN_IF_ERROR(BackfillStep(&did));
    if (!did) return Status::OK();
  }
}

}  // namespace sluice
