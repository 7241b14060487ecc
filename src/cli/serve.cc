// `sluice serve`: start the server on the resolved config and run until a signal.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "server/server.h"

namespace sluice {

int RunServe(const Config& config) {
  // Signals are taken synchronously by the main thread (sigwait), so block them before any
  // other thread exists.
  Server::BlockShutdownSignals();
  Server server(config);
  Status s = server.Start();
  if (!s.ok()) {
    std::fprintf(stderr, "sluice: %s\n", s.message().c_str());
    return 1;
  }
  s = server.RunUntilSignal();
  if (!s.ok()) {
    std::fprintf(stderr, "sluice: shutdown: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sluice
