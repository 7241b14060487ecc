// `sluice pull CONNECTOR.toml [--once]`: one pull connector in the foreground on the data
// dir, through the same Ingestor and log as `serve`, resuming from its durable checkpoint.
// --once polls until upstream has nothing more and exits (0 on success); without it the
// connector polls every poll_interval_seconds until SIGINT/SIGTERM. On a terminal, a
// progress line shows records, new events, requests, retries and 429s.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "server/engine.h"
#include "sources/checkpoint_store.h"
#include "sources/connector_config.h"
#include "sources/connector_runner.h"
#include "sources/pull_connector.h"

namespace sluice {

namespace {

void DrawProgress(PullConnector* c, std::chrono::steady_clock::time_point start, bool final) {
  ConnectorStats& s = c->stats();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr,
               "\r%s: %llu records (%.0f/s), %llu new, %llu duplicate, %llu requests, %llu "
               "retries, %llu 429s   %s",
               c->config().name.c_str(), static_cast<unsigned long long>(s.records.load()),
               secs > 0 ? double(s.records.load()) / secs : 0.0,
               static_cast<unsigned long long>(s.stored.load()),
               static_cast<unsigned long long>(s.duplicates.load()),
               static_cast<unsigned long long>(s.requests.load()),
               static_cast<unsigned long long>(s.retries.load()),
               static_cast<unsigned long long>(s.rate_limited.load()), final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace

int RunPull(const Config& config, const PullFlags& flags) {
  auto cc = LoadConnectorFile(flags.connector_file);
  if (!cc.ok()) {
    std::fprintf(stderr, "sluice pull: %s\n", cc.status().message().c_str());
    return 2;
  }
  // Signals are taken by a watcher thread (sigtimedwait), so block them before any thread.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto engine = Engine::Open(config, /*start_consumer=*/true);
  if (!engine.ok()) {
    std::fprintf(stderr, "sluice pull: %s\n", engine.status().message().c_str());
    return 1;
  }
  Engine* e = engine->get();
  auto cp = LoadDurableCheckpoint(e->log(), e->store(), cc->tenant, cc->name);
  if (!cp.ok()) {
    std::fprintf(stderr, "sluice pull: %s\n", cp.status().message().c_str());
    return 1;
  }
  spdlog::info("connector={} resuming checkpoint=\"{}\"", cc->name, *cp);
  std::unique_ptr<PullConnector> connector =
      PullConnector::Create(*cc, e->ingestor(), e->log(), *cp);
  connector->set_schema_lookup(
      [schemas = e->schemas()](const std::string& t) { return schemas->SchemasFor(t); });

  const bool tty = isatty(STDERR_FILENO) && !flags.no_progress;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      if (sigtimedwait(&sigs, nullptr, &tick) > 0) connector->Stop();
      if (tty) DrawProgress(connector.get(), start, false);
    }
  });

  Status s;
  while (true) {
    s = ConnectorRunner::RunOnce(connector.get());
    if (flags.once || connector->stopped()) break;
    if (!s.ok()) {
      spdlog::error("connector={} poll_failed=\"{}\"", cc->name, s.message());
    }
    connector->SleepUntil(std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(cc->poll_interval_seconds)));
    if (connector->stopped()) break;
  }
  done.store(true);
  watcher.join();
  if (tty) DrawProgress(connector.get(), start, true);
  Status closed = e->Close();
  ConnectorStats& st = connector->stats();
  std::fprintf(stderr,
               "sluice pull: %s: %llu records, %llu new, %llu duplicates, %llu requests, %llu "
               "retries, %llu 429s; checkpoint %s\n",
               cc->name.c_str(), static_cast<unsigned long long>(st.records.load()),
               static_cast<unsigned long long>(st.stored.load()),
               static_cast<unsigned long long>(st.duplicates.load()),
               static_cast<unsigned long long>(st.requests.load()),
               static_cast<unsigned long long>(st.retries.load()),
               static_cast<unsigned long long>(st.rate_limited.load()),
               cc->kind == ConnectorKind::kSnapshot
                   ? "<entity table>"
                   : ("\"" + connector->checkpoint() + "\"").c_str());
  if (!s.ok() && !connector->stopped()) {
    std::fprintf(stderr, "sluice pull: %s\n", s.message().c_str());
    return 1;
  }
  return closed.ok() ? 0 : 1;
}

}  // namespace sluice
