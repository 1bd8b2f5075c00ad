// plexsync: Stash plugin, queue worker and operator CLI in one static binary.
#include <cstdio>
#include <exception>

#include "cli/cli.hpp"
#include "util/fatal.hpp"

int main(int argc, char** argv) {
  try {
    return cli::run(argc, argv);
  } catch (const util::Fatal& e) {
    (void)std::fprintf(stderr, "plexsync: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "plexsync: internal error: %s\n", e.what());
    return 70;
  }
}
