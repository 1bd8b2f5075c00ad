#include "schema.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace gql {
namespace {

// Strips descriptions ("..." and """..."""), comments and directive arguments' strings, so the
// SDL reduces to names and punctuation.
std::string strip(const std::string& sdl) {
  std::string out;
  for (size_t i = 0; i < sdl.size(); ++i) {
    if (sdl.compare(i, 3, "\"\"\"") == 0) {
      const auto end = sdl.find("\"\"\"", i + 3);
      i = end == std::string::npos ? sdl.size() : end + 2;
      out.push_back(' ');
    } else if (sdl[i] == '"') {
      size_t j = i + 1;
      while (j < sdl.size() && sdl[j] != '"' && sdl[j] != '\n') {
        j += sdl[j] == '\\' ? 2 : 1;
      }
      i = j;
      out.push_back(' ');
    } else if (sdl[i] == '#') {
      while (i < sdl.size() && sdl[i] != '\n') {
        ++i;
      }
      out.push_back('\n');
    } else {
      out.push_back(sdl[i]);
    }
  }
  return out;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

} // namespace

util::Result<Schema> Schema::load(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string sdl;
  std::error_code ec;
  for (const auto& sub : {fs::path(dir), fs::path(dir) / "types"}) {
    if (!fs::is_directory(sub, ec)) {
      continue;
    }
    for (const auto& entry : fs::directory_iterator(sub, ec)) {
      if (entry.path().extension() == ".graphql") {
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        sdl += text.str() + "\n";
      }
    }
  }
  if (sdl.empty()) {
    return util::fail("no Stash schema (*.graphql) in " + dir);
  }
  // Tokens: names and punctuation. Only "type"/"interface" at brace depth 0 open an object type
  // (fields may be called "type" too).
  const auto text = strip(sdl);
  std::vector<std::string> tokens;
  for (size_t i = 0; i < text.size();) {
    if (name_char(text[i])) {
      size_t e = i;
      while (e < text.size() && name_char(text[e])) {
        ++e;
      }
      tokens.push_back(text.substr(i, e - i));
      i = e;
    } else {
      if (std::isspace(static_cast<unsigned char>(text[i])) == 0 && text[i] != ',') {
        tokens.emplace_back(1, text[i]);
      }
      ++i;
    }
  }
  Schema schema;
  int depth = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] == "{") {
      ++depth;
      continue;
    }
    if (tokens[t] == "}") {
      --depth;
      continue;
    }
    if (depth != 0 || (tokens[t] != "type" && tokens[t] != "interface") || t + 1 >= tokens.size()) {
      continue;
    }
    const auto& name = tokens[t + 1];
    size_t k = t + 2;
    while (k < tokens.size() && tokens[k] != "{" && tokens[k] != "type" && tokens[k] != "input" &&
           tokens[k] != "enum" && tokens[k] != "scalar" && tokens[k] != "union") {
      ++k;
    }
    if (k >= tokens.size() || tokens[k] != "{") {
      continue; // a type without a body
    }
    auto& fields = schema.types_[name];
    int parens = 0;
    for (++k; k < tokens.size() && !(tokens[k] == "}" && parens == 0); ++k) {
      const auto& tok = tokens[k];
      if (tok == "(") {
        ++parens;
      } else if (tok == ")") {
        --parens;
      } else if (parens == 0 && tok == "@" && k + 1 < tokens.size()) {
        ++k; // a directive's name; its arguments are skipped as parentheses
      } else if (parens == 0 && name_char(tok[0])) {
        // name [ (args) ] : [ [ ] Type
        size_t after = k + 1;
        if (after < tokens.size() && tokens[after] == "(") {
          int inner = 0;
          do {
            inner += tokens[after] == "(" ? 1 : (tokens[after] == ")" ? -1 : 0);
            ++after;
          } while (after < tokens.size() && inner > 0);
        }
        if (after < tokens.size() && tokens[after] == ":") {
          size_t type_at = after + 1;
          while (type_at < tokens.size() && tokens[type_at] == "[") {
            ++type_at;
          }
          if (type_at < tokens.size()) {
            fields[tok] = tokens[type_at];
          }
          k = type_at;
        }
      }
    }
    t = k;
  }
  return schema;
}

std::optional<std::string> Schema::field_type(const std::string& type, const std::string& field) const {
  const auto t = types_.find(type);
  if (t == types_.end()) {
    return std::nullopt;
  }
  const auto f = t->second.find(field);
  if (f == t->second.end()) {
    return std::nullopt;
  }
  return f->second;
}

util::Result<void> Schema::validate(const Document& doc) const {
  for (const auto& op : doc.operations) {
    const std::string root =
        op.type == "mutation" ? "Mutation" : (op.type == "subscription" ? "Subscription" : "Query");
    TRY(validate_set(op.selections, root, doc, 0));
  }
  return {};
}

util::Result<void> Schema::validate_set(const SelectionSet& set, const std::string& type, const Document& doc,
                                        int depth) const {
  if (depth > 32) {
    return util::fail("query too deep");
  }
  for (const auto& sel : set) {
    if (sel.kind == Selection::Kind::fragment_spread) {
      const auto it = doc.fragments.find(sel.name);
      if (it == doc.fragments.end()) {
        return util::fail("Unknown fragment \"" + sel.name + "\".");
      }
      TRY(validate_set(it->second, type, doc, depth + 1));
      continue;
    }
    if (sel.kind == Selection::Kind::inline_fragment) {
      TRY(validate_set(sel.selections, sel.type_condition.empty() ? type : sel.type_condition, doc, depth + 1));
      continue;
    }
    if (sel.name == "__typename") {
      continue;
    }
    const auto child = field_type(type, sel.name);
    if (!child) {
      return util::fail("Cannot query field \"" + sel.name + "\" on type \"" + type + "\".");
    }
    if (sel.selections.empty() && has_fields(*child)) {
      return util::fail("Field \"" + sel.name + "\" of type \"" + *child + "\" must have a selection of subfields.");
    }
    if (!sel.selections.empty() && !has_fields(*child)) {
      return util::fail("Field \"" + sel.name + "\" must not have a selection since type \"" + *child +
                        "\" has no subfields.");
    }
    if (!sel.selections.empty()) {
      TRY(validate_set(sel.selections, *child, doc, depth + 1));
    }
  }
  return {};
}

} // namespace gql
