// The command line of SPEC §3.1: parses argv and runs one subcommand.
#pragma once

namespace sluice {

int RunCli(int argc, char** argv);

}  // namespace sluice
