// plexsim: the Plex simulator as a standalone loopback server.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "plexsim.hpp"
#include "sim/args.hpp"

int main(int argc, char** argv) {
  const auto args = sim::parse_args(argc, argv);
  if (args.flag("--help")) {
    std::cout << "usage: plexsim [--host 127.0.0.1] [--port 32400] [--port-file F] [--token T]\n"
                 "               [--library FILE.json | --generate N [--pull-library]] [--latency-ms MS]\n"
                 "               [--fault 'status=503,retry_after=2,path=/library,times=3'] ... [--allow-no-auth]\n"
                 "               [--tls-cert CHAIN.pem --tls-key KEY.pem]   (serve HTTPS)\n"
                 "               [--capacity N [--service-ms MS] [--max-queue Q]]   (load model: see plexsim.hpp)\n"
                 "Control at runtime: POST/DELETE /__sim/faults, POST /__sim/latency, GET/DELETE /__sim/requests,\n"
                 "                    GET/POST/DELETE /__sim/load, GET /__sim/posters/{ratingKey}\n";
    return 0;
  }
  sim::block_termination_signals(); // before any thread starts, so wait_for_signal() sees them
  plexsim::Options options;
  options.token = args.get("--token", options.token);
  options.allow_no_auth = args.flag("--allow-no-auth");
  options.scan_delay_ms = std::stoi(args.get("--scan-delay-ms", "200"));
  plexsim::PlexSim sim(options);
  if (const auto lib = args.get("--library"); !lib.empty()) {
    std::ifstream in(lib);
    if (!in) {
      (void)std::fprintf(stderr, "plexsim: cannot read %s\n", lib.c_str());
      return 2;
    }
    sim.load(nlohmann::json::parse(in));
  } else {
    sim.generate(std::stoi(args.get("--generate", "50")), args.flag("--pull-library"));
  }
  sim.faults().set_latency_ms(std::stoi(args.get("--latency-ms", "0")));
  sim.set_load_model(plexsim::LoadModel{std::stoi(args.get("--capacity", "0")),
                                        std::stoi(args.get("--service-ms", "5")),
                                        std::stoi(args.get("--max-queue", "-1")), 1});
  for (const auto& spec : args.all("--fault")) {
    sim.faults().add(sim::fault_from_spec(spec));
  }
  auto server = net::start_server(
      args.get("--host", "127.0.0.1"), static_cast<uint16_t>(std::stoi(args.get("--port", "32400"))),
      [&sim](const net::ServerRequest& r) { return sim.handle(r); },
      net::ServerTls{args.get("--tls-cert"), args.get("--tls-key")});
  sim::write_port_file(args.get("--port-file"), server->port());
  (void)std::fprintf(stderr, "plexsim: listening on %s://127.0.0.1:%d with %zu items\n",
                     args.get("--tls-cert").empty() ? "http" : "https", server->port(), sim.item_count());
  sim::wait_for_signal();
  if (const auto out = args.get("--dump-on-exit"); !out.empty()) {
    std::ofstream(out) << sim.dump().dump(2);
  }
  server->stop();
  return 0;
}
