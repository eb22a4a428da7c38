#include "agent/runtime/oci_config.h"

#include <algorithm>
#include <utility>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {

Result<OciConfig> OciConfig::Parse(std::string_view text) {
  Result<json::Value> doc = json::Parse(text);
  if (!doc.ok()) return doc.status().WithContext("config.json");
  if (!doc->is_object()) return Status::InvalidArgument("config.json: not a JSON object");
  if (const json::Value* linux_section = json::Find(*doc, "linux");
      linux_section != nullptr && !linux_section->is_object()) {
    return Status::InvalidArgument("config.json: \"linux\" is not an object");
  }
  if (const json::Value* ann = json::Find(*doc, "annotations");
      ann != nullptr && !ann->is_object() && !ann->is_null()) {
    return Status::InvalidArgument("config.json: \"annotations\" is not an object");
  }
  return OciConfig(std::move(doc).value());
}

Result<OciConfig> OciConfig::Load(const std::string& path) {
  Result<std::string> text = ReadFileNoFollow(path);
  if (!text.ok()) return text.status();
  Result<OciConfig> config = Parse(*text);
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

Status OciConfig::Save(const std::string& path) const {
  return WriteFileAtomic(path, ToString() + "\n", 0644);
}

std::string OciConfig::ToString() const { return json::Serialize(doc_, 2); }

namespace {

// The string at `v`; nullopt when absent or not a string.
std::optional<std::string> StringAt(const json::Value* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

// The member `key` of `parent`, made an empty object or array (`empty`) unless it is one.
json::Value& SectionAt(json::Value& parent, std::string_view key, json::Value empty) {
  json::Value& section = parent[std::string(key)];
  if (section.type() != empty.type()) section = std::move(empty);
  return section;
}

// The hooks of `stage` in `doc`; nullptr when there is no such list.
template <typename Doc>
auto HookList(Doc& doc, std::string_view stage) -> decltype(json::Find(doc, stage)) {
  auto* hooks = json::Find(doc, "hooks");
  auto* list = hooks != nullptr ? json::Find(*hooks, stage) : nullptr;
  return list != nullptr && list->is_array() ? list : nullptr;
}

}  // namespace

std::optional<std::string> OciConfig::cgroups_path() const {
  const json::Value* linux_section = json::Find(doc_, "linux");
  return linux_section != nullptr ? StringAt(json::Find(*linux_section, "cgroupsPath"))
                                  : std::nullopt;
}

void OciConfig::set_cgroups_path(std::string path) {
  SectionAt(doc_, "linux", json::Value::object())["cgroupsPath"] = std::move(path);
}

std::optional<std::string> OciConfig::annotation(std::string_view key) const {
  const json::Value* ann = json::Find(doc_, "annotations");
  return ann != nullptr ? StringAt(json::Find(*ann, key)) : std::nullopt;
}

void OciConfig::set_annotation(std::string_view key, std::string value) {
  SectionAt(doc_, "annotations", json::Value::object())[std::string(key)] = std::move(value);
}

bool OciConfig::remove_annotation(std::string_view key) {
  json::Value* ann = json::Find(doc_, "annotations");
  return ann != nullptr && ann->is_object() && ann->erase(std::string(key)) > 0;
}

bool OciConfig::creates_namespace(std::string_view wanted) const {
  const json::Value* linux_section = json::Find(doc_, "linux");
  const json::Value* ns =
      linux_section != nullptr ? json::Find(*linux_section, "namespaces") : nullptr;
  if (ns == nullptr || !ns->is_array()) return false;
  for (const json::Value& entry : *ns) {
    const json::Value* path = json::Find(entry, "path");
    if (StringAt(json::Find(entry, "type")) == wanted &&
        (path == nullptr || StringAt(path) == "")) {
      return true;
    }
  }
  return false;
}

bool HookHasMarker(const json::Value& hook, std::string_view marker) {
  const json::Value* args = json::Find(hook, "args");
  if (args == nullptr || !args->is_array()) return false;
  for (const json::Value& arg : *args) {
    if (arg.is_string() && arg.get_ref<const std::string&>().find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
}

void OciConfig::SetHook(std::string_view stage, std::string_view marker, std::string path,
                        std::vector<std::string> args, std::vector<std::string> env) {
  json::Value hook = {{"path", std::move(path)}, {"args", std::move(args)}};
  if (!env.empty()) hook["env"] = std::move(env);
  json::Value& hooks = SectionAt(doc_, "hooks", json::Value::object());
  json::Value& list = SectionAt(hooks, stage, json::Value::array());
  for (json::Value& existing : list) {
    if (HookHasMarker(existing, marker)) {
      existing = std::move(hook);
      return;
    }
  }
  list.push_back(std::move(hook));
}

int OciConfig::CountHooks(std::string_view stage, std::string_view marker) const {
  const json::Value* list = HookList(doc_, stage);
  if (list == nullptr) return 0;
  return static_cast<int>(std::count_if(list->begin(), list->end(), [&](const json::Value& hook) {
    return HookHasMarker(hook, marker);
  }));
}

int OciConfig::RemoveHooks(std::string_view stage, std::string_view marker) {
  json::Value* list = HookList(doc_, stage);
  if (list == nullptr) return 0;
  json::Value::array_t& items = list->get_ref<json::Value::array_t&>();
  auto end = std::remove_if(items.begin(), items.end(),
                            [&](const json::Value& hook) { return HookHasMarker(hook, marker); });
  int removed = static_cast<int>(items.end() - end);
  items.erase(end, items.end());
  return removed;
}

}  // namespace migrate::runtime
