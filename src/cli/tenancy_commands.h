// `sluice tenants|keys|schemas|dead-letters ...` (SPEC §3.1, §7). Each works on the data
// dir when no server holds it, or through a running server's /v1/admin/ routes with --url
// (and an admin or operator key: --key or $SLUICE_API_KEY).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"

namespace sluice {

class TenancyCommands {
 public:
  // Adds the four commands and their actions to `app`; `add_common` adds --config etc.
  void Register(CLI::App& app, const std::function<void(CLI::App*)>& add_common);
  bool parsed() const;
  int Run(const Config& config);

 private:
  int RunTenants(const Config& config);
  int RunKeys(const Config& config);
  int RunSchemas(const Config& config);
  int RunDeadLetters(const Config& config);

  std::vector<CLI::App*> actions_;  // the parsed action is the one that ran
  CLI::App* tenants_ = nullptr;
  CLI::App* keys_ = nullptr;
  CLI::App* schemas_ = nullptr;
  CLI::App* dead_letters_ = nullptr;
  std::string action_;
  std::string url_;
  std::string name_;  // tenant name (tenants), key label (keys)
  std::string tenant_;
  std::string role_;
  std::string id_;
  std::string type_;
  std::string file_;
  double events_per_second_ = -1;
  double requests_per_second_ = -1;
  double max_stored_bytes_ = -1;
  bool all_ = false;
};

}  // namespace sluice
