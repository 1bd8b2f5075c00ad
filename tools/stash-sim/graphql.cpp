#include "graphql.hpp"

#include <cctype>

namespace gql {
namespace {

struct Token {
  enum class Kind { punct, name, integer, floating, string, end } kind = Kind::end;
  std::string text;
};

class Lexer {
public:
  explicit Lexer(const std::string& s) : s_(s) {}

  util::Result<Token> next() {
    skip();
    if (pos_ >= s_.size()) {
      return Token{Token::Kind::end, ""};
    }
    const char c = s_[pos_];
    if (c == '.' && s_.compare(pos_, 3, "...") == 0) {
      pos_ += 3;
      return Token{Token::Kind::punct, "..."};
    }
    if (std::string("!$()=:@[]{}|&").find(c) != std::string::npos) {
      ++pos_;
      return Token{Token::Kind::punct, std::string(1, c)};
    }
    if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
      const size_t b = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '_')) {
        ++pos_;
      }
      return Token{Token::Kind::name, s_.substr(b, pos_ - b)};
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c)) != 0) {
      const size_t b = pos_++;
      bool is_float = false;
      while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) != 0 || s_[pos_] == '.' ||
                                  s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-')) {
        is_float = is_float || !std::isdigit(static_cast<unsigned char>(s_[pos_]));
        ++pos_;
      }
      return Token{is_float ? Token::Kind::floating : Token::Kind::integer, s_.substr(b, pos_ - b)};
    }
    if (c == '"') {
      if (s_.compare(pos_, 3, "\"\"\"") == 0) {
        const auto end = s_.find("\"\"\"", pos_ + 3);
        if (end == std::string::npos) {
          return util::fail("Syntax Error: Unterminated string.");
        }
        Token t{Token::Kind::string, s_.substr(pos_ + 3, end - pos_ - 3)};
        pos_ = end + 3;
        return t;
      }
      std::string out;
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
          const char e = s_[++pos_];
          switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            if (pos_ + 4 >= s_.size()) {
              return util::fail("Syntax Error: Invalid Unicode escape sequence.");
            }
            try {
              out += nlohmann::json::parse("\"\\u" + s_.substr(pos_ + 1, 4) + "\"").get<std::string>();
            } catch (const nlohmann::json::exception&) {
              return util::fail("Syntax Error: Invalid Unicode escape sequence.");
            }
            pos_ += 4;
            break;
          }
          default:
            out.push_back(e);
          }
          ++pos_;
          continue;
        }
        out.push_back(s_[pos_++]);
      }
      if (pos_ >= s_.size()) {
        return util::fail("Syntax Error: Unterminated string.");
      }
      ++pos_;
      return Token{Token::Kind::string, out};
    }
    return util::fail(std::string("Syntax Error: Unexpected character \"") + c + "\".");
  }

private:
  void skip() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') {
          ++pos_;
        }
      } else if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == ',') {
        ++pos_;
      } else if (static_cast<unsigned char>(c) == 0xEF && s_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) {
        pos_ += 3;
      } else {
        break;
      }
    }
  }
  const std::string& s_;
  size_t pos_ = 0;
};

class Parser {
public:
  Parser(const std::string& text, const nlohmann::json& variables) : lex_(text), vars_(variables) {}

  util::Result<Document> document() {
    TRY(advance());
    Document doc;
    while (tok_.kind != Token::Kind::end) {
      if (is_punct("{")) {
        Operation op;
        TRY_ASSIGN(op.selections, selection_set());
        doc.operations.push_back(std::move(op));
      } else if (tok_.kind == Token::Kind::name && tok_.text == "fragment") {
        TRY(advance());
        const std::string name = tok_.text;
        TRY(advance());
        TRY(expect_name("on"));
        TRY(advance()); // type
        TRY(skip_directives());
        TRY_ASSIGN(auto set, selection_set());
        doc.fragments[name] = std::move(set);
      } else if (tok_.kind == Token::Kind::name &&
                 (tok_.text == "query" || tok_.text == "mutation" || tok_.text == "subscription")) {
        Operation op;
        op.type = tok_.text;
        TRY(advance());
        if (tok_.kind == Token::Kind::name) {
          op.name = tok_.text;
          TRY(advance());
        }
        if (is_punct("(")) {
          TRY(variable_definitions());
        }
        TRY(skip_directives());
        TRY_ASSIGN(op.selections, selection_set());
        doc.operations.push_back(std::move(op));
      } else {
        return util::fail("Syntax Error: Unexpected \"" + tok_.text + "\".");
      }
    }
    if (doc.operations.empty()) {
      return util::fail("Syntax Error: no operation in document.");
    }
    return doc;
  }

private:
  util::Result<void> advance() {
    TRY_ASSIGN(tok_, lex_.next());
    return {};
  }
  [[nodiscard]] bool is_punct(const char* p) const { return tok_.kind == Token::Kind::punct && tok_.text == p; }
  util::Result<void> expect(const char* p) {
    if (!is_punct(p)) {
      return util::fail(std::string("Syntax Error: Expected \"") + p + "\", found \"" + tok_.text + "\".");
    }
    return advance();
  }
  util::Result<void> expect_name(const char* n) {
    if (tok_.kind != Token::Kind::name || tok_.text != n) {
      return util::fail(std::string("Syntax Error: Expected \"") + n + "\", found \"" + tok_.text + "\".");
    }
    return advance();
  }

  util::Result<void> skip_type() {
    if (is_punct("[")) {
      TRY(advance());
      TRY(skip_type());
      TRY(expect("]"));
    } else if (tok_.kind == Token::Kind::name) {
      TRY(advance());
    } else {
      return util::fail("Syntax Error: Expected a type.");
    }
    if (is_punct("!")) {
      TRY(advance());
    }
    return {};
  }

  util::Result<void> variable_definitions() {
    TRY(expect("("));
    while (!is_punct(")")) {
      TRY(expect("$"));
      const std::string name = tok_.text;
      TRY(advance());
      TRY(expect(":"));
      TRY(skip_type());
      if (is_punct("=")) {
        TRY(advance());
        TRY_ASSIGN(auto def, value(true));
        if (!vars_.contains(name)) {
          vars_[name] = def;
        }
      }
      if (tok_.kind == Token::Kind::end) {
        return util::fail("Syntax Error: Unterminated variable definitions.");
      }
    }
    return advance();
  }

  util::Result<void> skip_directives() {
    while (is_punct("@")) {
      TRY(advance());
      TRY(advance());
      if (is_punct("(")) {
        TRY(arguments());
      }
    }
    return {};
  }

  util::Result<nlohmann::json> value(bool is_const) {
    if (is_punct("$")) {
      if (is_const) {
        return util::fail("Syntax Error: Unexpected variable in a constant.");
      }
      TRY(advance());
      const std::string name = tok_.text;
      TRY(advance());
      return vars_.is_object() && vars_.contains(name) ? vars_.at(name) : nlohmann::json();
    }
    if (is_punct("[")) {
      TRY(advance());
      nlohmann::json arr = nlohmann::json::array();
      while (!is_punct("]")) {
        if (tok_.kind == Token::Kind::end) {
          return util::fail("Syntax Error: Unterminated list.");
        }
        TRY_ASSIGN(auto v, value(is_const));
        arr.push_back(v);
      }
      TRY(advance());
      return arr;
    }
    if (is_punct("{")) {
      TRY(advance());
      nlohmann::json obj = nlohmann::json::object();
      while (!is_punct("}")) {
        if (tok_.kind != Token::Kind::name) {
          return util::fail("Syntax Error: Expected a field name in an object value.");
        }
        const std::string key = tok_.text;
        TRY(advance());
        TRY(expect(":"));
        TRY_ASSIGN(obj[key], value(is_const));
      }
      TRY(advance());
      return obj;
    }
    const Token t = tok_;
    TRY(advance());
    switch (t.kind) {
    case Token::Kind::integer:
      return nlohmann::json(std::stoll(t.text));
    case Token::Kind::floating:
      return nlohmann::json(std::stod(t.text));
    case Token::Kind::string:
      return nlohmann::json(t.text);
    case Token::Kind::name:
      if (t.text == "true" || t.text == "false") {
        return nlohmann::json(t.text == "true");
      }
      if (t.text == "null") {
        return nlohmann::json();
      }
      return nlohmann::json(t.text); // enum value
    default:
      return util::fail("Syntax Error: Unexpected \"" + t.text + "\".");
    }
  }

  util::Result<nlohmann::json> arguments() {
    TRY(expect("("));
    nlohmann::json args = nlohmann::json::object();
    while (!is_punct(")")) {
      if (tok_.kind != Token::Kind::name) {
        return util::fail("Syntax Error: Expected an argument name.");
      }
      const std::string name = tok_.text;
      TRY(advance());
      TRY(expect(":"));
      TRY_ASSIGN(args[name], value(false));
    }
    TRY(advance());
    return args;
  }

  util::Result<SelectionSet> selection_set() {
    TRY(expect("{"));
    SelectionSet set;
    while (!is_punct("}")) {
      if (tok_.kind == Token::Kind::end) {
        return util::fail("Syntax Error: Expected \"}\".");
      }
      Selection sel;
      if (is_punct("...")) {
        TRY(advance());
        if (tok_.kind == Token::Kind::name && tok_.text == "on") {
          TRY(advance());
          sel.kind = Selection::Kind::inline_fragment;
          sel.type_condition = tok_.text;
          TRY(advance());
          TRY(skip_directives());
          TRY_ASSIGN(sel.selections, selection_set());
        } else if (is_punct("{")) {
          sel.kind = Selection::Kind::inline_fragment;
          TRY_ASSIGN(sel.selections, selection_set());
        } else {
          sel.kind = Selection::Kind::fragment_spread;
          sel.name = tok_.text;
          TRY(advance());
          TRY(skip_directives());
        }
        set.push_back(std::move(sel));
        continue;
      }
      if (tok_.kind != Token::Kind::name) {
        return util::fail("Syntax Error: Expected Name, found \"" + tok_.text + "\".");
      }
      sel.name = tok_.text;
      sel.alias = tok_.text;
      TRY(advance());
      if (is_punct(":")) {
        TRY(advance());
        sel.name = tok_.text;
        TRY(advance());
      }
      if (is_punct("(")) {
        TRY_ASSIGN(sel.arguments, arguments());
      }
      TRY(skip_directives());
      if (is_punct("{")) {
        TRY_ASSIGN(sel.selections, selection_set());
      }
      set.push_back(std::move(sel));
    }
    TRY(advance());
    return set;
  }

  Lexer lex_;
  nlohmann::json vars_;
  Token tok_;
};

util::Result<void> project_into(nlohmann::json& out, const nlohmann::json& value, const SelectionSet& selections,
                                const Document& doc, const std::string& type_name, int depth) {
  if (depth > 32) {
    return util::fail("query too deep");
  }
  for (const auto& sel : selections) {
    if (sel.kind == Selection::Kind::fragment_spread) {
      auto it = doc.fragments.find(sel.name);
      if (it == doc.fragments.end()) {
        return util::fail("Unknown fragment \"" + sel.name + "\".");
      }
      TRY(project_into(out, value, it->second, doc, type_name, depth + 1));
      continue;
    }
    if (sel.kind == Selection::Kind::inline_fragment) {
      TRY(project_into(out, value, sel.selections, doc, type_name, depth + 1));
      continue;
    }
    if (sel.name == "__typename") {
      out[sel.alias] = type_name;
      continue;
    }
    if (!value.is_object() || !value.contains(sel.name)) {
      return util::fail("Cannot query field \"" + sel.name + "\" on type \"" + type_name + "\".");
    }
    const auto& child = value.at(sel.name);
    const std::string& child_type = sel.name;
    // No selection: a scalar, or an opaque map scalar such as PluginConfigMap.
    if (sel.selections.empty() || child.is_null()) {
      out[sel.alias] = child;
      continue;
    }
    if (child.is_array()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& element : child) {
        nlohmann::json o = nlohmann::json::object();
        TRY(project_into(o, element, sel.selections, doc, child_type, depth + 1));
        arr.push_back(std::move(o));
      }
      out[sel.alias] = std::move(arr);
    } else if (child.is_object()) {
      nlohmann::json o = nlohmann::json::object();
      TRY(project_into(o, child, sel.selections, doc, child_type, depth + 1));
      out[sel.alias] = std::move(o);
    } else {
      return util::fail("Field \"" + sel.name + "\" must not have a selection since it is a scalar.");
    }
  }
  return {};
}

} // namespace

util::Result<Document> parse(const std::string& text, const nlohmann::json& variables) {
  Parser p(text, variables.is_object() ? variables : nlohmann::json::object());
  return p.document();
}

util::Result<nlohmann::json> project(const nlohmann::json& value, const SelectionSet& selections, const Document& doc,
                                     const std::string& type_name) {
  nlohmann::json out = nlohmann::json::object();
  TRY(project_into(out, value, selections, doc, type_name, 0));
  return out;
}

} // namespace gql
