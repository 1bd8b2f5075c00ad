// stashsim: the Stash simulator as a standalone loopback server.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "sim/args.hpp"
#include "stashsim.hpp"

int main(int argc, char** argv) {
  const auto args = sim::parse_args(argc, argv);
  if (args.flag("--help")) {
    std::cout
        << "usage: stashsim [--host 127.0.0.1] [--port 9999] [--port-file F] [--scenes FILE.json | --generate N]\n"
           "                [--settings JSON] [--api-key K] [--credentials] [--latency-ms MS] [--fault SPEC] ...\n"
           "                [--stash-release vX.Y.Z] [--schema-dir DIR] [--external-host URL] [--wide-covers]\n"
           "                [--max-session-age S]\n"
           "--stash-release: answer as that Stash release (its schema from DIR/versions/<tag>; default develop)\n"
           "--max-session-age S: with --credentials, session cookies stop working S seconds after they were made\n"
           "--wide-covers: scene covers as 320x180 JPEGs, as Stash's screenshots are (default: a 1x1 PNG)\n"
           "Control at runtime: POST /__sim/session (new cookie), POST /__sim/scenes/<id> (edit),\n"
           "POST /__sim/settings, POST/DELETE /__sim/faults, GET/DELETE /__sim/requests\n";
    return 0;
  }
  sim::block_termination_signals(); // before any thread starts, so wait_for_signal() sees them
  stashsim::Options options;
  options.api_key = args.get("--api-key");
  options.credentials = args.flag("--credentials");
  options.release = args.get("--stash-release");
  options.schema_dir = args.get("--schema-dir");
  options.external_host = args.get("--external-host");
  options.wide_covers = args.flag("--wide-covers");
  options.session_max_age_ms = std::stoll(args.get("--max-session-age", "0")) * 1000;
  std::optional<stashsim::StashSim> made;
  try {
    made.emplace(options);
  } catch (const std::runtime_error& e) {
    (void)std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  auto& sim = *made;
  if (const auto file = args.get("--scenes"); !file.empty()) {
    std::ifstream in(file);
    if (!in) {
      (void)std::fprintf(stderr, "stashsim: cannot read %s\n", file.c_str());
      return 2;
    }
    sim.load(nlohmann::json::parse(in));
  } else {
    sim.generate(std::stoi(args.get("--generate", "50")));
  }
  if (const auto s = args.get("--settings"); !s.empty()) {
    sim.set_plugin_settings("PlexSync", nlohmann::json::parse(s));
  }
  sim.faults().set_latency_ms(std::stoi(args.get("--latency-ms", "0")));
  for (const auto& spec : args.all("--fault")) {
    sim.faults().add(sim::fault_from_spec(spec));
  }
  auto server =
      net::start_server(args.get("--host", "127.0.0.1"), static_cast<uint16_t>(std::stoi(args.get("--port", "9999"))),
                        [&sim](const net::ServerRequest& r) { return sim.handle(r); });
  sim::write_port_file(args.get("--port-file"), server->port());
  (void)std::fprintf(stderr, "stashsim: listening on 127.0.0.1:%d\n", server->port());
  sim::wait_for_signal();
  server->stop();
  return 0;
}
