// Service mode's observability: /metrics in Prometheus' text format and /healthz, served on
// 127.0.0.1 only (`plexsync worker --forever --metrics-port N`). Every request reads the database
// afresh through its own connection, so what it shows is what the queue holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/server.hpp"
#include "store/db.hpp"

namespace cli {

// The exposition text (for tests and the endpoint).
std::string render_metrics(store::Db& db, const std::string& data_dir, int64_t now_ms);

// Throws util::Fatal when the port cannot be bound.
std::unique_ptr<net::HttpServer> start_metrics_server(const std::string& data_dir, uint16_t port);

} // namespace cli
