#include "cli/cli.h"

#include <cstdio>

namespace sluice {

int RunCli(int argc, char** argv) {
  std::fprintf(stderr, "sluice: not built yet\n");
  return 1;
}

}  // namespace sluice
