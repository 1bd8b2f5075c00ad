// A small GraphQL parser for the simulator: operations, variables, aliases, arguments,
// fragments and inline fragments. Enough to answer real queries field-by-field, so a query
// asking for a field the simulator does not know fails like it would against Stash.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/expected.hpp"

namespace gql {

struct Selection;
using SelectionSet = std::vector<Selection>;

struct Selection {
  enum class Kind { field, fragment_spread, inline_fragment } kind = Kind::field;
  std::string alias; // response key (alias or name)
  std::string name;  // field name or fragment name
  std::string type_condition;
  nlohmann::json arguments = nlohmann::json::object(); // values with variables already resolved
  SelectionSet selections;
};

struct Operation {
  std::string type = "query"; // query | mutation | subscription
  std::string name;
  SelectionSet selections;
};

struct Document {
  std::vector<Operation> operations;
  std::map<std::string, SelectionSet> fragments;
};

// Parses and resolves $variables against the given values (defaults applied).
util::Result<Document> parse(const std::string& text, const nlohmann::json& variables);

// Projects a resolved JSON value through a selection set: only selected fields, aliased.
// Unknown fields produce an error naming the field and the parent type.
util::Result<nlohmann::json> project(const nlohmann::json& value, const SelectionSet& selections, const Document& doc,
                                     const std::string& type_name);

} // namespace gql
