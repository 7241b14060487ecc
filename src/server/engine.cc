#include "server/engine.h"
#include "common/thread_name.h"
#include "rollup/rollup_table.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

namespace sluice {

namespace {

StoreConsumerOptions ConsumerOptions(const Config& config) {
  StoreConsumerOptions so;
  so.batch_events = config.store_batch_events;
  so.batch_ms = config.store_batch_ms;
  return so;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const Config& config, bool start_consumer) {
  std::unique_ptr<Engine> e(new Engine());
  e->config_ = config;
  DataDirPaths paths(config.data_dir);
  auto lock = DataDirLock::Acquire(paths.root);
  if (!lock.ok()) return lock.status();
  e->lock_ = std::move(*lock);

  auto tenants = TenantRegistry::Open(paths.tenants());
  if (!tenants.ok()) return tenants.status();
  e->tenants_ = std::move(*tenants);
  auto schemas = SchemaRegistry::Open(paths.schemas());
  if (!schemas.ok()) return schemas.status();
  e->schemas_ = std::move(*schemas);

  LogOptions lo;
  lo.dir = paths.log();
  lo.segment_bytes = config.segment_bytes;
  lo.direct_io = config.log_direct_io;
  lo.tail_cache_bytes = config.log_tail_cache_bytes;
  RecoveryReport report;
  auto log = Log::Open(lo, &report);
  if (!log.ok()) return log.status();
  e->log_ = std::move(*log);
  for (const auto& note : report.notes) spdlog::warn("log recovery: {}", note);
  spdlog::info(
      "log: {} segment(s), {} record(s), truncated {} B, skipped {} B, cut {} B of direct-write "
      "padding, offsets [{}, {})",
      report.segments, report.records, report.truncated_bytes, report.skipped_bytes,
      report.padding_bytes, e->log_->start_offset(), e->log_->end_offset());

  e->ingestor_ = std::make_unique<Ingestor>(e->log_.get(), config.dedupe_capacity_slots,
                                            paths.dedupe_snapshot());
  uint64_t replayed = 0;
  auto t0 = std::chrono::steady_clock::now();
  SLUICE_RETURN_IF_ERROR(e->ingestor_->Recover(&replayed));
  spdlog::info(
      "dedupe: {} ids remembered ({} replayed from the log in {} ms), window >= {} ids",
      e->ingestor_->dedupe_size(), replayed,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count(),
      e->ingestor_->dedupe_window());

  if (config.store_enabled) {
    EventStoreOptions store_options;
    store_options.threads = config.store_threads;
    store_options.memory_limit_bytes = config.store_memory_limit_bytes;
    store_options.checkpoint_bytes = config.store_checkpoint_bytes;
    store_options.user_projection = config.store_user_projection;
    store_options.archive_root = std::filesystem::absolute(paths.archive()).lexically_normal();
    // The archive is read (events view) and written (archiver: staging, then rename);
    // nothing else outside DuckDB's own files is ever opened through SQL.
    store_options.file_roots = {
        store_options.archive_root,
        std::filesystem::absolute(paths.archive_staging()).lexically_normal().string()};
    // Attached even with rollups off, so that turning them back on finds their history.
    store_options.attach = {{"rollups", RollupDatabasePath(paths.store())}};
    auto store = EventStore::Open(paths.store(), store_options);
    if (!store.ok()) return store.status();
    e->store_ = std::move(*store);
    ArchiverOptions ao;
    ao.staging_dir = paths.archive_staging();
    ao.lateness_us = int64_t{config.archive_lateness_minutes} * 60 * 1000000;
    ao.hot_days = config.hot_days;
    ao.retention_days = config.retention_days;
    e->archiver_ = std::make_unique<Archiver>(e->store_.get(), ao);
    SLUICE_RETURN_IF_ERROR(e->archiver_->Recover());
    if (start_consumer) {
      e->consumer_ =
          std::make_unique<StoreConsumer>(e->log_.get(), e->store_.get(), ConsumerOptions(config));
      SLUICE_RETURN_IF_ERROR(e->consumer_->Start());
      if (config.rollup_enabled) {
        e->rollups_ = std::make_unique<RollupConsumer>(e->log_.get(), e->store_.get(),
                                                       RollupOptionsFromConfig(config));
        e->rollups_->InstallCrashHookFromEnv();
        SLUICE_RETURN_IF_ERROR(e->rollups_->Start());
      }
      if (config.archive_enabled) {
        e->archive_thread_ = std::thread([engine = e.get()] {
          SetCurrentThreadName("archiver");
          engine->ArchiveLoop();
        });
      }
    }
  }
  return e;
}

Status Engine::DrainToStore() {
  if (!store_) return Status::OK();
  StoreConsumerOptions options = ConsumerOptions(config_);
  // Offline nothing else wants the cores: DuckDB's second thread only helps there.
  options.saturated_threads = 0;
  StoreConsumer drain(log_.get(), store_.get(), options);
  SLUICE_RETURN_IF_ERROR(drain.RunUntilCaughtUp());
  // Rollups too: offline imports then keep metrics current and the log unpinned.
  if (!config_.rollup_enabled) return Status::OK();
  RollupConsumer rollups(log_.get(), store_.get(), RollupOptionsFromConfig(config_));
  return rollups.RunUntilCaughtUp();
}

void Engine::ArchiveLoop() {
  const auto interval = std::chrono::seconds(config_.archive_interval_seconds);
  std::unique_lock<std::mutex> lock(archive_mu_);
  while (!archive_cv_.wait_for(lock, interval, [&] { return archive_stop_; })) {
    lock.unlock();
    ArchiveStats stats;
    const auto t0 = std::chrono::steady_clock::now();
    Status s = archiver_->RunScheduled(&stats);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!s.ok()) {
      spdlog::error("archive pass failed after {} ms (retrying next interval): {}", ms,
                    s.ToString());
    } else if (stats.files_written + stats.hours_evicted + stats.hours_expired +
                   stats.days_projected >
               0) {
      spdlog::info("archive pass in {} ms: {}", ms, stats.ToString());
    }
    lock.lock();
  }
}

Status Engine::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  Status result;
  if (archive_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(archive_mu_);
      archive_stop_ = true;
    }
    archive_cv_.notify_all();
    archive_thread_.join();
  }
  if (rollups_) rollups_->Stop();
  if (consumer_) consumer_->Stop();
  if (ingestor_) {
    Status s = ingestor_->Snapshot();
    if (!s.ok()) {
      spdlog::error("final dedupe snapshot failed: {}", s.ToString());
      result = s;
    }
  }
  if (log_) log_->CollectGarbage();
  rollups_.reset();
  consumer_.reset();
  archiver_.reset();
  store_.reset();
  ingestor_.reset();
  log_.reset();  // flushes and fsyncs anything pending
  lock_.reset();
  return result;
}

Engine::~Engine() { Close(); }

}  // namespace sluice
