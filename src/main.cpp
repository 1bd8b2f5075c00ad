// plexsync: Stash plugin, queue worker and operator CLI in one static binary.
#include <cstdio>
#include <exception>
#include <vector>

#include "cli/cli.hpp"
#include "util/fatal.hpp"
#include "util/file.hpp"
#include "util/log.hpp"
#include "util/process.hpp"

int main(int argc, char** argv) {
  try {
    util::restrict_new_files(); // the database, log and spool hold secrets: this user's only
    // UTF-8 arguments on every OS (Windows gives them back as UTF-16 whatever the code page).
    auto args = util::utf8_arguments(argc, argv);
    std::vector<char*> pointers;
    pointers.reserve(args.size() + 1);
    for (auto& a : args) {
      pointers.push_back(a.data());
    }
    pointers.push_back(nullptr);
    return cli::run(static_cast<int>(args.size()), pointers.data());
  } catch (const util::Fatal& e) {
    (void)std::fprintf(stderr, "plexsync: error: %s\n", util::log::redact(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "plexsync: internal error: %s\n", util::log::redact(e.what()).c_str());
    return 70;
  }
}
