// The only translation unit that includes CLI11.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"
#include "cli/operator.hpp"
#include "cli/plugin.hpp"
#include "cli/provider_cmd.hpp"
#include "config/manifest.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/process.hpp"

namespace cli {

int run(int argc, char** argv) {
  remember_argv0(argc > 0 ? argv[0] : nullptr);
  util::use_binary_stdio();
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
  bool stop = false;
  worker->add_flag("--stop", stop,
                   "Ask the worker of this data dir to stop after its current job (as Ctrl+C would), and wait");
  uint16_t metrics_port = 0;
  worker->add_option("--metrics-port", metrics_port, "Serve /metrics and /healthz on 127.0.0.1:PORT (default: off)");

  std::string manifest_out;
  auto* manifest = app.add_subcommand("manifest", "Print PlexSync.yml (generated from the settings table)");
  manifest->add_option("-o,--output", manifest_out, "Write to this file instead of stdout");
  auto* settings_doc = app.add_subcommand("settings-doc", "Print the settings reference as Markdown");

  // The operator commands: each reads the plugin's data directory; --json on every one.
  OperatorOptions op;
  const auto operator_command = [&](const char* name, const char* help) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("--data-dir", op.data_dir,
                    "Data directory (default: $PLEXSYNC_DATA_DIR, else data/ beside the binary)");
    sub->add_flag("--json", op.json, "Print one JSON document instead of text");
    return sub;
  };
  auto* status = operator_command("status", "Queue, dead letters, breaker, outages and the last sync");
  bool ack_recovery = false;
  status->add_flag("--ack-recovery", ack_recovery,
                   "Stop reporting that a damaged database was moved aside and replaced (its file is kept)");
  auto* dlq = operator_command("dlq", "Dead letters: list, retry or purge");
  std::string dlq_action;
  std::string error_class;
  int days = 30;
  dlq->add_option("action", dlq_action, "list | retry | purge")
      ->required()
      ->check(CLI::IsMember({"list", "retry", "purge"}));
  dlq->add_option("--class", error_class, "Only dead letters of this class (e.g. not_found, permanent_status)");
  dlq->add_option("--days", days, "purge: only those whose last failure is older than this many days (default 30)")
      ->check(CLI::Range(0, 36500));
  auto* config_cmd = operator_command(
      "config", "Effective settings (Stash, then $PLEXSYNC_CONFIG, then PLEXSYNC_* variables), secrets masked");
  auto* doctor = operator_command(
      "doctor",
      "Check settings, Stash, Plex, the token, libraries, TLS, the data dir and path mapping; say what to fix");
  std::string target;
  auto* match_cmd = operator_command(
      "match", "How a scene (Stash id) or a file path matches Plex items: candidates, scores, reasons");
  match_cmd->add_option("scene", target, "Stash scene id, or a file path as Stash sees it")->required();
  bool dry_run = false;
  auto* sync = operator_command("sync", "Sync one scene now; --dry-run prints the exact edit instead");
  sync->add_option("scene", target, "Stash scene id")->required();
  sync->add_flag("--dry-run", dry_run, "Send nothing: print the match and the edit a sync would send");
  auto* preview_cmd = operator_command(
      "preview", "What a sync of a scene would write under the current settings (titles from templates "
                 "included), without writing: the same as sync --dry-run");
  preview_cmd->add_option("scene", target, "Stash scene id")->required();

  auto* review =
      operator_command("review", "Uncertain matches with their candidates; 'review pick SCENE ITEM' chooses");
  std::vector<std::string> review_args;
  review->add_option("pick", review_args, "pick <scene id> <Plex rating key>")->expected(0, 3);
  auto* provider_cmd = app.add_subcommand(
      "provider", "The Plex metadata provider (pull mode): url, check, match, register, rotate-token");
  provider_cmd->require_subcommand(1, 1);
  const auto provider_sub = [&](const char* name, const char* help) {
    auto* sub = provider_cmd->add_subcommand(name, help);
    sub->add_option("--data-dir", op.data_dir,
                    "Data directory (default: $PLEXSYNC_DATA_DIR, else data/ beside the binary)");
    sub->add_flag("--json", op.json, "Print one JSON document instead of text");
    return sub;
  };
  auto* provider_url = provider_sub("url", "Print the provider's root URL to register in Plex (first line)");
  auto* provider_check =
      provider_sub("check", "Check the provider end to end: listener, Plex's registration, libraries, matches, images");
  auto* provider_match = provider_sub("match", "The exact answer the provider gives Plex for a file name");
  std::string match_title;
  bool match_manual = false;
  provider_match->add_option("filename", target, "The file name as Plex sends it (relative to the library folder)")
      ->required();
  provider_match->add_flag("--manual", match_manual, "As Plex's Fix Match asks: every candidate, best first");
  provider_match->add_option("--title", match_title, "The title Plex's Fix Match box sends (also 'stash 1234')");
  auto* provider_register = provider_sub("register", "Register the provider and an agent in Plex (Plex 1.43+)");
  std::vector<std::string> register_libraries;
  bool register_switch = false;
  provider_register->add_option("--library", register_libraries, "A Plex library to move onto the PlexSync agent");
  provider_register->add_flag("--switch", register_switch, "Move the --library libraries now and refresh them");
  bool register_no_local_media = false;
  provider_register->add_flag("--no-local-media", register_no_local_media,
                              "Leave Plex Local Media (local subtitles, trailers, artwork) out of the agent");
  auto* provider_rotate =
      provider_sub("rotate-token", "Replace the provider's secret path segment and print the new URL");

  auto* webhook_cmd = app.add_subcommand("webhook", "Plex's webhooks (Plex -> Stash, Plex Pass): url");
  webhook_cmd->require_subcommand(1, 1);
  auto* webhook_url = webhook_cmd->add_subcommand("url", "Print the URL to paste into Plex's Settings > Webhooks");
  webhook_url->add_option("--data-dir", op.data_dir,
                          "Data directory (default: $PLEXSYNC_DATA_DIR, else data/ beside the binary)");
  webhook_url->add_flag("--json", op.json, "Print one JSON document instead of text");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e); // prints the help or the usage error
    return code == 0 ? 0 : k_exit_usage;
  }
  if (op.data_dir.empty()) {
    op.data_dir = resolve_data_dir("");
  }
  // The operator commands' answers are masked as the log is (registered secrets, and any pasted
  // into a URL setting), whichever command prints them.
  const auto masked = [](const auto& command) {
    std::ostringstream captured;
    auto* const original = std::cout.rdbuf(captured.rdbuf());
    int code = k_exit_usage;
    try {
      code = command();
    } catch (...) {
      std::cout.rdbuf(original);
      std::cout << util::log::redact(captured.str()) << std::flush;
      throw;
    }
    std::cout.rdbuf(original);
    std::cout << util::log::redact(captured.str()) << std::flush;
    return code;
  };
  if (*status) {
    return masked([&] { return cmd_status(op, ack_recovery); });
  }
  if (*dlq) {
    return masked([&] { return cmd_dlq(op, dlq_action, error_class, days); });
  }
  if (*config_cmd) {
    return masked([&] { return cmd_config(op); });
  }
  if (*doctor) {
    return masked([&] { return cmd_doctor(op); });
  }
  if (*match_cmd) {
    return masked([&] { return cmd_match(op, target); });
  }
  if (*sync) {
    return masked([&] { return cmd_sync(op, target, dry_run); });
  }
  if (*preview_cmd) {
    return masked([&] { return cmd_sync(op, target, true); });
  }
  if (*review) {
    if (review_args.empty()) {
      return masked([&] { return cmd_review(op); });
    }
    if (review_args.size() != 3 || review_args[0] != "pick") {
      std::cerr << "usage: plexsync review [pick <scene id> <Plex rating key>]\n";
      return k_exit_usage;
    }
    return masked([&] { return cmd_review_pick(op, review_args[1], review_args[2]); });
  }
  if (*provider_url) {
    return cmd_provider_url(op); // not masked: printing the secret URL is its job
  }
  if (*provider_check) {
    return masked([&] { return cmd_provider_check(op); });
  }
  if (*provider_match) {
    return masked([&] { return cmd_provider_match(op, target, match_manual, match_title); });
  }
  if (*provider_register) {
    return masked(
        [&] { return cmd_provider_register(op, register_libraries, register_switch, !register_no_local_media); });
  }
  if (*provider_rotate) {
    return cmd_provider_rotate(op);
  }
  if (*webhook_url) {
    return cmd_webhook_url(op); // not masked: printing the secret URL is its job
  }
  if (*plugin) {
    return run_plugin();
  }
  if (*worker) {
    const auto dir = data_dir.empty() ? resolve_data_dir("") : data_dir;
    return stop ? stop_worker(dir) : run_worker(dir, forever, metrics_port);
  }
  if (*manifest) {
    if (manifest_out.empty()) {
      std::cout << config::render_manifest();
      return 0;
    }
    // Binary: the same bytes on every OS (Windows' text mode would write CRLF).
    std::ofstream out(util::fs_path(manifest_out), std::ios::binary);
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
