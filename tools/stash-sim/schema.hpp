// The object types of one Stash release's GraphQL schema, read from its SDL files, so the
// simulator refuses a query that release would refuse (gqlgen validates every document before it
// runs it and answers HTTP 422).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "graphql.hpp"
#include "util/expected.hpp"

namespace gql {

class Schema {
public:
  // Reads every *.graphql file in dir and dir/types (Stash's layout).
  static util::Result<Schema> load(const std::string& dir);

  // The named type of a field (lists and non-null unwrapped); nullopt when the type has no such
  // field. Types without fields (scalars, enums, unknown) answer nullopt for every field.
  [[nodiscard]] std::optional<std::string> field_type(const std::string& type, const std::string& field) const;
  [[nodiscard]] bool has_fields(const std::string& type) const { return types_.count(type) != 0U; }

  // gqlgen's validation of the fields a document selects: the first error, worded like gqlparser's.
  [[nodiscard]] util::Result<void> validate(const Document& doc) const;

private:
  util::Result<void> validate_set(const SelectionSet& set, const std::string& type, const Document& doc,
                                  int depth) const;
  std::map<std::string, std::map<std::string, std::string>> types_; // type -> field -> named type
};

} // namespace gql
