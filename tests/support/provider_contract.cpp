#include "support/provider_contract.hpp"

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

namespace testing_support {
namespace {

using Problems = std::vector<std::string>;

void need(Problems& p, const nlohmann::json& obj, const char* key, nlohmann::json::value_t type,
          const std::string& where, bool required = true) {
  if (!obj.contains(key)) {
    if (required) {
      p.push_back(where + ": " + key + " is missing");
    }
    return;
  }
  const auto t = obj.at(key).type();
  const bool same =
      t == type || (type == nlohmann::json::value_t::number_integer && t == nlohmann::json::value_t::number_unsigned) ||
      (type == nlohmann::json::value_t::number_float && obj.at(key).is_number());
  if (!same) {
    p.push_back(where + ": " + key + " has the wrong JSON type (" + std::string(obj.at(key).type_name()) + ")");
  }
}

bool absolute_url(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

void tag_list(Problems& p, const nlohmann::json& m, const char* key, const std::string& where) {
  if (!m.contains(key)) {
    return;
  }
  if (!m.at(key).is_array()) {
    p.push_back(where + ": " + key + " is not an array");
    return;
  }
  for (const auto& e : m.at(key)) {
    if (!e.is_object() || !e.contains("tag") || !e.at("tag").is_string()) {
      p.push_back(where + ": an element of " + key + " has no string tag");
    } else if (e.contains("order") && !e.at("order").is_number_integer()) {
      p.push_back(where + ": " + key + ".order is not an integer");
    } else if (e.contains("thumb") && (!e.at("thumb").is_string() || !absolute_url(e.at("thumb")))) {
      p.push_back(where + ": " + key + ".thumb is not an absolute URL");
    }
  }
}

void image_list(Problems& p, const nlohmann::json& list, const std::string& where) {
  static const std::set<std::string> k_types = {"coverPoster", "background", "backgroundSquare",
                                                "clearLogo",   "snapshot",   "squareArt"};
  if (!list.is_array()) {
    p.push_back(where + ": Image is not an array");
    return;
  }
  for (const auto& i : list) {
    if (!i.is_object() || !i.contains("type") || !i.at("type").is_string() || k_types.count(i.at("type")) == 0) {
      p.push_back(where + ": an Image has no known type");
    }
    if (!i.is_object() || !i.contains("url") || !i.at("url").is_string() || !absolute_url(i.at("url"))) {
      p.push_back(where + ": an Image url is not an absolute URL");
    }
  }
}

void metadata_item(Problems& p, const nlohmann::json& m, bool keys_required, const std::string& where) {
  using V = nlohmann::json::value_t;
  if (!m.is_object()) {
    p.push_back(where + " is not an object");
    return;
  }
  need(p, m, "ratingKey", V::string, where, keys_required);
  need(p, m, "key", V::string, where, keys_required);
  need(p, m, "guid", V::string, where);
  need(p, m, "type", V::string, where);
  need(p, m, "title", V::string, where);
  need(p, m, "originallyAvailableAt", V::string, where, keys_required);
  for (const char* s :
       {"thumb", "art", "summary", "tagline", "studio", "contentRating", "originalTitle", "titleSort"}) {
    need(p, m, s, V::string, where, false);
  }
  for (const char* i : {"year", "duration", "index", "parentIndex"}) {
    need(p, m, i, V::number_integer, where, false);
  }
  need(p, m, "isAdult", V::boolean, where, false);
  if (m.contains("ratingKey") && m.at("ratingKey").is_string()) {
    static const std::regex k_rk("^[A-Za-z0-9_-]+$");
    const auto rk = m.at("ratingKey").get<std::string>();
    if (!std::regex_match(rk, k_rk)) {
      p.push_back(where + ": ratingKey \"" + rk + "\" has characters outside [A-Za-z0-9_-]");
    }
    if (m.contains("key") && m.at("key").is_string() && m.at("key").get<std::string>().find(rk) == std::string::npos) {
      p.push_back(where + ": key does not contain the ratingKey");
    }
  }
  if (m.contains("type") && m.at("type").is_string()) {
    static const std::set<std::string> k_types = {"movie", "show", "season", "episode"};
    if (k_types.count(m.at("type")) == 0) {
      p.push_back(where + ": unknown type " + m.at("type").get<std::string>());
    }
  }
  if (m.contains("originallyAvailableAt") && m.at("originallyAvailableAt").is_string()) {
    static const std::regex k_date("^(\\d{4}-\\d{2}-\\d{2})?$");
    if (!std::regex_match(m.at("originallyAvailableAt").get<std::string>(), k_date)) {
      p.push_back(where + ": originallyAvailableAt is not YYYY-MM-DD");
    }
  }
  for (const char* t : {"Genre", "Role", "Director", "Producer", "Writer", "Country", "Studio", "Network"}) {
    tag_list(p, m, t, where);
  }
  if (m.contains("Image")) {
    image_list(p, m.at("Image"), where);
  }
  if (m.contains("Guid")) {
    for (const auto& g : m.at("Guid")) {
      if (!g.is_object() || !g.contains("id") || !g.at("id").is_string() ||
          g.at("id").get<std::string>().find("://") == std::string::npos) {
        p.push_back(where + ": a Guid has no scheme://id");
      }
    }
  }
}

void container(Problems& p, const nlohmann::json& doc, const char* array, const std::string& kind, bool keys_required) {
  using V = nlohmann::json::value_t;
  if (!doc.is_object() || !doc.contains("MediaContainer") || !doc.at("MediaContainer").is_object()) {
    p.push_back(kind + ": no MediaContainer object");
    return;
  }
  const auto& mc = doc.at("MediaContainer");
  need(p, mc, "offset", V::number_integer, kind);
  need(p, mc, "totalSize", V::number_integer, kind);
  need(p, mc, "identifier", V::string, kind);
  need(p, mc, "size", V::number_integer, kind);
  if (!mc.contains(array) || !mc.at(array).is_array()) {
    p.push_back(kind + ": no " + array + " array");
    return;
  }
  if (mc.contains("size") && mc.at("size").is_number() && mc.at("size").get<size_t>() != mc.at(array).size()) {
    p.push_back(kind + ": size is not the length of " + array);
  }
  if (std::string(array) == "Image") {
    image_list(p, mc.at(array), kind);
    return;
  }
  for (size_t i = 0; i < mc.at(array).size(); ++i) {
    metadata_item(p, mc.at(array).at(i), keys_required, kind + " Metadata[" + std::to_string(i) + "]");
  }
}

void root(Problems& p, const nlohmann::json& doc) {
  using V = nlohmann::json::value_t;
  if (!doc.is_object() || !doc.contains("MediaProvider") || !doc.at("MediaProvider").is_object()) {
    p.emplace_back("root: no MediaProvider object");
    return;
  }
  const auto& mp = doc.at("MediaProvider");
  need(p, mp, "identifier", V::string, "root");
  need(p, mp, "title", V::string, "root");
  need(p, mp, "version", V::string, "root", false);
  static const std::regex k_id("^tv\\.plex\\.agents\\.custom\\.[A-Za-z0-9.]+$");
  const auto id = mp.value("identifier", std::string());
  if (!std::regex_match(id, k_id)) {
    p.push_back("root: identifier \"" + id + "\" does not match ^tv.plex.agents.custom.[A-Za-z0-9.]+$");
  }
  std::set<int> types;
  if (!mp.contains("Types") || !mp.at("Types").is_array() || mp.at("Types").empty()) {
    p.emplace_back("root: Types is missing or empty");
  } else {
    for (const auto& t : mp.at("Types")) {
      if (!t.is_object() || !t.contains("type") || !t.at("type").is_number_integer() || t.at("type") < 1 ||
          t.at("type") > 4) {
        p.emplace_back("root: a Types entry has no type 1-4");
        continue;
      }
      types.insert(t.at("type").get<int>());
      if (!t.contains("Scheme") || !t.at("Scheme").is_array() || t.at("Scheme").empty()) {
        p.emplace_back("root: a Types entry has no Scheme");
        continue;
      }
      for (const auto& s : t.at("Scheme")) {
        if (!s.is_object() || !s.contains("scheme") || s.at("scheme") != id) {
          p.emplace_back("root: a scheme is not the identifier");
        }
      }
    }
  }
  const bool tv = types.count(2) + types.count(3) + types.count(4);
  if (tv && types.count(2) + types.count(3) + types.count(4) != 3) {
    p.emplace_back("root: a TV provider must declare types 2, 3 and 4 together");
  }
  std::set<std::string> features;
  if (mp.contains("Feature") && mp.at("Feature").is_array()) {
    for (const auto& f : mp.at("Feature")) {
      if (f.is_object() && f.contains("type") && f.at("type").is_string() && f.contains("key") &&
          f.at("key").is_string() && f.at("key").get<std::string>().rfind('/', 0) == 0) {
        features.insert(f.at("type").get<std::string>());
      } else {
        p.emplace_back("root: a Feature has no type and /key");
      }
    }
  }
  for (const char* f : {"metadata", "match"}) {
    if (features.count(f) == 0) {
      p.push_back(std::string("root: the ") + f + " feature is missing");
    }
  }
}

} // namespace

std::vector<std::string> contract_problems(const std::string& kind, const nlohmann::json& doc) {
  Problems p;
  if (kind == "root") {
    root(p, doc);
  } else if (kind == "metadata") {
    container(p, doc, "Metadata", kind, true);
  } else if (kind == "match") {
    container(p, doc, "Metadata", kind, false); // Plex's season example carries only a guid
  } else if (kind == "images") {
    container(p, doc, "Image", kind, true);
  } else {
    p.push_back("unknown kind " + kind);
  }
  return p;
}

std::vector<std::string> plexsync_problems(const nlohmann::json& doc, const std::string& identifier,
                                           const std::string& base) {
  Problems p;
  const auto& mc = doc.at("MediaContainer");
  if (mc.value("identifier", "") != identifier) {
    p.emplace_back("the container's identifier is not the provider's");
  }
  const auto check_url = [&](const std::string& url, const std::string& where) {
    if (url.rfind(base + "/img/v1/", 0) != 0) {
      p.push_back(where + ": " + url + " is not a signed image URL under " + base);
    }
    // Image URLs leave PMS (clients, Plex's image proxy): the secret path must not ride along.
    if (url.find("/p/") != std::string::npos) {
      p.push_back(where + ": " + url + " carries the provider's secret path");
    }
  };
  for (const auto& m : mc.value("Metadata", nlohmann::json::array())) {
    const auto rk = m.value("ratingKey", "");
    if (m.value("guid", "") != identifier + "://movie/" + rk) {
      p.push_back("guid " + m.value("guid", "") + " is not identifier://movie/" + rk);
    }
    if (m.value("key", "") != "/library/metadata/" + rk) {
      p.push_back("key " + m.value("key", "") + " is not /library/metadata/" + rk);
    }
    for (const char* u : {"thumb", "art"}) {
      if (m.contains(u)) {
        check_url(m.at(u), u);
      }
    }
    for (const auto& i : m.value("Image", nlohmann::json::array())) {
      check_url(i.value("url", ""), "Image");
    }
    for (const auto& r : m.value("Role", nlohmann::json::array())) {
      if (r.contains("thumb")) {
        check_url(r.at("thumb"), "Role.thumb");
      }
    }
  }
  for (const auto& i : mc.value("Image", nlohmann::json::array())) {
    check_url(i.value("url", ""), "Image");
  }
  return p;
}

} // namespace testing_support
