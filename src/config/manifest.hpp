// PlexSync.yml is generated from the settings table and the task table, so they cannot drift.
#pragma once

#include <span>
#include <string>

namespace config {

struct TaskSpec {
  const char* name; // Stash's button label and task_name
  const char* mode; // args.mode
  const char* description;
};

std::span<const TaskSpec> task_table();
std::string render_manifest();
// Markdown reference of every setting (docs/settings.md).
std::string render_settings_doc();

} // namespace config
