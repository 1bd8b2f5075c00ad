// The only translation unit that includes CLI11.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/plugin.hpp"
#include "config/manifest.hpp"

namespace cli {

int run(int argc, char** argv) {
  remember_argv0(argc > 0 ? argv[0] : nullptr);
  CLI::App app{"PlexSync: keeps Plex Media Server's metadata in step with Stash.\n"
               "Installed as a Stash plugin, Stash runs 'plexsync plugin' for hooks and tasks."};
  app.set_version_flag("--version", std::string("plexsync ") + PLEXSYNC_VERSION);
  app.require_subcommand(0, 1);

  auto* plugin = app.add_subcommand("plugin", "Stash plugin entry: JSON on stdin, one JSON result on stdout");

  std::string data_dir;
  bool forever = false;
  auto* worker = app.add_subcommand("worker", "Drain the queue in the foreground (one worker per data dir)");
  worker->add_option("--data-dir", data_dir, "Data directory (default: $PLEXSYNC_DATA_DIR)");
  worker->add_flag("--forever", forever, "Service mode: keep running instead of exiting when idle");

  std::string manifest_out;
  auto* manifest = app.add_subcommand("manifest", "Print PlexSync.yml (generated from the settings table)");
  manifest->add_option("-o,--output", manifest_out, "Write to this file instead of stdout");
  auto* settings_doc = app.add_subcommand("settings-doc", "Print the settings reference as Markdown");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*plugin) {
    return run_plugin();
  }
  if (*worker) {
    return run_worker(data_dir.empty() ? resolve_data_dir("") : data_dir, forever);
  }
  if (*manifest) {
    if (manifest_out.empty()) {
      std::cout << config::render_manifest();
      return 0;
    }
    std::ofstream out(manifest_out);
    out << config::render_manifest();
    return out ? 0 : 1;
  }
  if (*settings_doc) {
    std::cout << config::render_settings_doc();
    return 0;
  }
  std::cout << app.help();
  return 0;
}

} // namespace cli
