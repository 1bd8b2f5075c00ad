// The example tables docs/settings.md ends with (config::render_settings_doc): the rows of the
// table under a "## " heading, each as its cells with backquotes removed, up to the next heading.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace testing_support {

inline std::vector<std::vector<std::string>> doc_table_rows(const std::string& doc, const std::string& heading) {
  std::vector<std::vector<std::string>> rows;
  const auto start = doc.find(heading);
  if (start == std::string::npos) {
    return rows;
  }
  std::istringstream lines(doc.substr(start + heading.size()));
  for (std::string line; std::getline(lines, line) && line.rfind("## ", 0) != 0;) {
    if (line.rfind("| ", 0) != 0 || line.find('`') == std::string::npos) {
      continue; // prose, the header row or the |---| line
    }
    std::vector<std::string> cells;
    for (size_t at = 1; at < line.size();) {
      const auto bar = line.find(" |", at);
      if (bar == std::string::npos) {
        break;
      }
      auto cell = line.substr(at + 1, bar - at - 1);
      if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`') {
        cell = cell.substr(1, cell.size() - 2);
      }
      cells.push_back(std::move(cell));
      at = bar + 2;
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

} // namespace testing_support
