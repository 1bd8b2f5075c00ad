#include "sim/faults.hpp"

#include "util/strings.hpp"

namespace sim {

FaultRule fault_from_json(const nlohmann::json& j) {
  FaultRule r;
  r.method = j.value("method", "");
  r.path_prefix = j.value("path", "");
  r.status = j.value("status", 0);
  r.retry_after = j.contains("retry_after") ? (j.at("retry_after").is_string() ? j.at("retry_after").get<std::string>()
                                                                               : j.at("retry_after").dump())
                                            : "";
  r.delay_ms = j.value("delay_ms", 0);
  r.stall_after_head_ms = j.value("stall_after_head_ms", 0);
  r.stall_mid_body_ms = j.value("stall_mid_body_ms", 0);
  r.reset = j.value("reset", false);
  r.malformed = j.value("malformed", false);
  r.truncate = j.value("truncate", false);
  r.endless = j.value("endless", false);
  r.trickle_ms = j.value("trickle_ms", 0);
  r.times = j.value("times", -1);
  r.percent = j.value("percent", 100);
  return r;
}

FaultRule fault_from_spec(const std::string& spec) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& piece : util::split(spec, ',')) {
    const auto eq = piece.find('=');
    const auto key = util::trim(piece.substr(0, eq));
    const auto value = eq == std::string::npos ? std::string("1") : util::trim(piece.substr(eq + 1));
    if (key == "method" || key == "path" || key == "retry_after") {
      j[key] = value;
    } else if (key == "reset" || key == "malformed" || key == "truncate" || key == "endless") {
      j[key] = value != "0";
    } else if (!key.empty()) {
      j[key] = std::stoi(value);
    }
  }
  return fault_from_json(j);
}

RecordedRequest RecordedRequest::of(const net::ServerRequest& req) {
  RecordedRequest rec;
  rec.method = req.method;
  rec.path = req.path;
  rec.query = util::parse_query(req.query);
  for (const auto& h : req.headers) {
    rec.header_names.push_back(h.name);
  }
  return rec;
}

nlohmann::json RecordedRequest::to_json() const {
  nlohmann::json q = nlohmann::json::array();
  for (const auto& [k, v] : query) {
    q.push_back({k, v});
  }
  return {{"method", method}, {"path", path}, {"query", q}, {"headers", header_names}, {"token_via", token_via}};
}

void FaultTable::add(FaultRule rule) {
  std::lock_guard lock(mutex_);
  rules_.push_back(std::move(rule));
}

void FaultTable::clear() {
  std::lock_guard lock(mutex_);
  rules_.clear();
  latency_ms_ = 0;
}

void FaultTable::set_latency_ms(int ms) {
  std::lock_guard lock(mutex_);
  latency_ms_ = ms;
}

int64_t FaultTable::fired() {
  std::lock_guard lock(mutex_);
  return fired_;
}

int FaultTable::latency_ms() {
  std::lock_guard lock(mutex_);
  return latency_ms_;
}

std::optional<FaultRule> FaultTable::match(const std::string& method, const std::string& path) {
  std::lock_guard lock(mutex_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if ((!it->method.empty() && !util::iequals(it->method, method)) || path.rfind(it->path_prefix, 0) != 0) {
      continue;
    }
    if (it->percent < 100 && static_cast<int>(rng_() % 100) >= it->percent) {
      continue; // this request is spared; a later rule may still apply
    }
    FaultRule hit = *it;
    ++fired_;
    if (it->times > 0 && --it->times == 0) {
      rules_.erase(it);
    }
    return hit;
  }
  return std::nullopt;
}

void FaultTable::apply(const std::optional<FaultRule>& rule, net::ServerResponse& response, bool json_body) {
  if (!rule) {
    return;
  }
  const auto& r = *rule;
  response.delay_ms += r.delay_ms;
  if (r.status != 0) {
    response.status = r.status;
    response.headers = {{"Content-Type", "text/html"}};
    response.body = "<html><head><title>" + std::string(net::status_reason(r.status)) + "</title></head><body><h1>" +
                    std::to_string(r.status) + " " + net::status_reason(r.status) + "</h1></body></html>";
    if (!r.retry_after.empty()) {
      response.headers.push_back({"Retry-After", r.retry_after});
    }
  }
  if (r.malformed) {
    response.body = json_body ? std::string(R"({"MediaContainer": {"size": 1, "Metadata": [{"ratingKey": )")
                              : std::string("<MediaContainer size=\"1\"><Video ratingKey=");
  }
  response.stall_after_head_ms = r.stall_after_head_ms;
  response.stall_mid_body_ms = r.stall_mid_body_ms;
  response.reset = r.reset;
  response.truncate_body = r.truncate;
  response.endless_body = r.endless || r.trickle_ms > 0;
  response.endless_interval_ms = r.trickle_ms;
}

void RequestLog::record(RecordedRequest r) {
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(r));
}

std::vector<RecordedRequest> RequestLog::snapshot() {
  std::lock_guard lock(mutex_);
  return entries_;
}

size_t RequestLog::count() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void RequestLog::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

net::ServerResponse json_response(const nlohmann::json& body, int status) {
  net::ServerResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

net::ServerResponse text_response(int status, const std::string& content_type, const std::string& body) {
  net::ServerResponse r;
  r.status = status;
  r.headers = {{"Content-Type", content_type}};
  r.body = body;
  return r;
}

std::optional<net::ServerResponse> handle_control(const net::ServerRequest& req, FaultTable& faults, RequestLog& log) {
  if (req.path.rfind("/__sim/", 0) != 0) {
    return std::nullopt;
  }
  try {
    if (req.path == "/__sim/faults" && req.method == "POST") {
      faults.add(fault_from_json(nlohmann::json::parse(req.body)));
      return json_response({{"ok", true}});
    }
    if (req.path == "/__sim/faults" && req.method == "DELETE") {
      faults.clear();
      return json_response({{"ok", true}});
    }
    if (req.path == "/__sim/latency" && req.method == "POST") {
      faults.set_latency_ms(nlohmann::json::parse(req.body).value("ms", 0));
      return json_response({{"ok", true}});
    }
    if (req.path == "/__sim/requests" && req.method == "GET") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : log.snapshot()) {
        out.push_back(r.to_json());
      }
      return json_response(out);
    }
    if (req.path == "/__sim/requests" && req.method == "DELETE") {
      log.clear();
      return json_response({{"ok", true}});
    }
  } catch (const nlohmann::json::exception& e) {
    return json_response({{"error", e.what()}}, 400);
  }
  return std::nullopt;
}

} // namespace sim
