// Filling a title template (config/title_template.hpp, issue #28) from a scene. An empty
// placeholder takes the text that separates it from the fields around it with it:
// "{studio} - {date} - {title}" without a date is "Studio - Title".
#pragma once

#include <string>

#include "config/title_template.hpp"
#include "stash/scene.hpp"

namespace fieldsync {

// Not sanitized: the caller sanitizes and caps it as any title. Empty when no placeholder has a
// value.
std::string render_title(const config::TitleTemplate& t, const stash::Scene& scene);

} // namespace fieldsync
