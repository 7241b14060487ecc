// `sluice export-ids`: every stored event_id, once, one per line, in constant memory.
// Offline: opens the data dir, applies any log records the store has not taken yet, then
// streams ids out of DuckDB chunk by chunk.
#include <cstdio>

#include "cli/commands.h"
#include "server/engine.h"

namespace sluice {

int RunExportIds(const Config& config, const ExportIdsFlags& flags) {
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) {
    std::fprintf(stderr, "sluice export-ids: %s\n", engine.status().message().c_str());
    return 1;
  }
  Status s = (*engine)->DrainToStore();
  if (s.ok() && (*engine)->store() == nullptr) {
    s = Status::InvalidArgument("the store is disabled in the configuration ([store] enabled)");
  }
  if (s.ok()) {
    s = (*engine)->store()->ForEachEventId(flags.tenant, [](std::string_view, std::string_view id) {
      std::fwrite(id.data(), 1, id.size(), stdout);
      std::fputc('\n', stdout);
    });
  }
  if (s.ok()) s = (*engine)->Close();
  if (std::fflush(stdout) != 0 && s.ok()) s = Status::IOError("cannot write to stdout");
  if (!s.ok()) {
    std::fprintf(stderr, "sluice export-ids: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sluice
