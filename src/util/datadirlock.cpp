#include "util/datadirlock.hpp"

namespace util {

DataDirLock::DataDirLock(std::string dir) : path_(std::move(dir) + "/worker.lock") {}

DataDirLock::~DataDirLock() {
  release();
}

bool DataDirLock::held_by_someone(const std::string& dir) {
  DataDirLock probe(dir);
  return !probe.try_acquire() && probe.error() == "held by another process";
}

} // namespace util
