// The sluice binary: everything is a subcommand (cli/).
#include "cli/cli.h"

int main(int argc, char** argv) { return sluice::RunCli(argc, argv); }
