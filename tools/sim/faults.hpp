// Fault injection shared by both simulators: rules matched against each request, scriptable
// in-process, over the simulator's /__sim/ control endpoints, and from the command line.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/server.hpp"

namespace sim {

struct FaultRule {
  std::string method;      // empty: any
  std::string path_prefix; // empty: any path
  int status = 0;          // 0: do not override the status
  std::string retry_after; // Retry-After header value for status faults
  int delay_ms = 0;
  int stall_after_head_ms = 0;
  int stall_mid_body_ms = 0;
  bool reset = false;
  bool malformed = false; // replace the body with broken JSON/XML
  bool truncate = false;
  bool endless = false; // a body that never ends, as fast as the socket takes it
  int trickle_ms = 0;   // a body that never ends, one byte every trickle_ms
  int times = -1;       // how many requests it applies to; -1 = until cleared
  int percent = 100;    // the share of matching requests it applies to (the others pass)
};

FaultRule fault_from_json(const nlohmann::json& j);
// "status=503,retry_after=2,path=/library,times=3" (command-line form).
FaultRule fault_from_spec(const std::string& spec);

struct RecordedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query; // decoded, in order
  std::vector<std::string> header_names;
  std::string token_via; // "header", "query" or ""
  // Method, decoded path and query, header names (never their values).
  static RecordedRequest of(const net::ServerRequest& req);
  nlohmann::json to_json() const;
};

class FaultTable {
public:
  void add(FaultRule rule);
  void clear();
  void set_latency_ms(int ms);
  // Consumes one use of the first matching rule.
  std::optional<FaultRule> match(const std::string& method, const std::string& path);
  // Applies a matched rule to a response the simulator produced (the global latency is slept by
  // the simulator while the request counts as in flight).
  void apply(const std::optional<FaultRule>& rule, net::ServerResponse& response, bool json_body);
  int latency_ms();

  // How many requests a rule has applied to since the start.
  int64_t fired();

private:
  int64_t fired_ = 0;
  std::minstd_rand rng_{12345};
  std::mutex mutex_;
  std::vector<FaultRule> rules_;
  int latency_ms_ = 0;
};

class RequestLog {
public:
  void record(RecordedRequest r);
  std::vector<RecordedRequest> snapshot();
  size_t count();
  void clear();

private:
  std::mutex mutex_;
  std::vector<RecordedRequest> entries_;
};

// Handles /__sim/faults, /__sim/latency, /__sim/requests; nullopt when the path is not one.
std::optional<net::ServerResponse> handle_control(const net::ServerRequest& req, FaultTable& faults, RequestLog& log);

net::ServerResponse json_response(const nlohmann::json& body, int status = 200);
net::ServerResponse text_response(int status, const std::string& content_type, const std::string& body);

} // namespace sim
