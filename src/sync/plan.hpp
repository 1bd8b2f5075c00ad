// Scene -> the Plex fields we own, sanitized, diffed against the item, as one combined edit.
#pragma once

#include <string>
#include <vector>

#include "config/settings.hpp"
#include "plex/client.hpp"
#include "stash/scene.hpp"

namespace fieldsync {

// NFC, C0/C1 control characters removed (newline kept when allow_newline), trimmed.
std::string sanitize(const std::string& text, bool allow_newline);

struct EditPlan {
  plex::Params params;              // empty: Plex already matches Stash
  std::vector<std::string> changed; // field names, for the log
};

EditPlan plan_edit(const stash::Scene& scene, const plex::Item& item, const config::Settings& settings);

} // namespace fieldsync
