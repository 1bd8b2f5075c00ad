// A structural reading of the Plex metadata provider protocol (specs/plex-metadata-provider.md
// section 2), used by the contract tests against Plex's own example payloads and against every
// answer PlexSync's provider gives.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace testing_support {

// kind: "root", "metadata", "match", "images". Empty when the document follows the protocol.
std::vector<std::string> contract_problems(const std::string& kind, const nlohmann::json& doc);
// What PlexSync promises beyond the protocol: guid = identifier://movie/ratingKey, key ends with
// the ratingKey, every image URL absolute, under base (the provider's address without the secret
// path) and signed (img/v1/...).
std::vector<std::string> plexsync_problems(const nlohmann::json& doc, const std::string& identifier,
                                           const std::string& base);

} // namespace testing_support
