// Command-line entry: plexsync plugin | worker | manifest | settings-doc | --version | --help.
#pragma once

namespace cli {

int run(int argc, char** argv);

} // namespace cli
