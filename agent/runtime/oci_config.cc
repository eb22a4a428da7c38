#include "agent/runtime/oci_config.h"

#include <algorithm>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {

Result<OciConfig> OciConfig::Parse(std::string_view text) {
  Result<json::Value> doc = json::Parse(text);
  if (!doc.ok()) return doc.status().WithContext("config.json");
  if (!doc->is_object()) return Status::InvalidArgument("config.json: not a JSON object");
  if (const json::Value* linux_section = doc->Find("linux");
      linux_section != nullptr && !linux_section->is_object()) {
    return Status::InvalidArgument("config.json: \"linux\" is not an object");
  }
  if (const json::Value* ann = doc->Find("annotations");
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

std::optional<std::string> OciConfig::cgroups_path() const {
  const json::Value* linux_section = doc_.Find("linux");
  if (linux_section == nullptr) return std::nullopt;
  const json::Value* path = linux_section->Find("cgroupsPath");
  if (path == nullptr || !path->is_string()) return std::nullopt;
  return path->string_value();
}

void OciConfig::set_cgroups_path(std::string path) {
  json::Value* linux_section = doc_.Find("linux");
  if (linux_section == nullptr) linux_section = &doc_.Set("linux", json::Value::Object());
  linux_section->Set("cgroupsPath", json::Value::String(std::move(path)));
}

std::optional<std::string> OciConfig::annotation(std::string_view key) const {
  const json::Value* ann = doc_.Find("annotations");
  if (ann == nullptr) return std::nullopt;
  const json::Value* value = ann->Find(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->string_value();
}

void OciConfig::set_annotation(std::string_view key, std::string value) {
  json::Value* ann = doc_.Find("annotations");
  if (ann == nullptr || !ann->is_object()) ann = &doc_.Set("annotations", json::Value::Object());
  ann->Set(std::string(key), json::Value::String(std::move(value)));
}

bool OciConfig::remove_annotation(std::string_view key) {
  json::Value* ann = doc_.Find("annotations");
  return ann != nullptr && ann->Remove(key);
}

bool OciConfig::creates_namespace(std::string_view wanted) const {
  const json::Value* linux_section = doc_.Find("linux");
  const json::Value* ns = linux_section != nullptr ? linux_section->Find("namespaces") : nullptr;
  if (ns == nullptr || !ns->is_array()) return false;
  for (const json::Value& entry : ns->array()) {
    const json::Value* type = entry.Find("type");
    const json::Value* path = entry.Find("path");
    if (type != nullptr && type->is_string() && type->string_value() == wanted &&
        (path == nullptr || (path->is_string() && path->string_value().empty()))) {
      return true;
    }
  }
  return false;
}

bool HookHasMarker(const json::Value& hook, std::string_view marker) {
  const json::Value* args = hook.Find("args");
  if (args == nullptr || !args->is_array()) return false;
  for (const json::Value& arg : args->array()) {
    if (arg.is_string() && arg.string_value().find(marker) != std::string::npos) return true;
  }
  return false;
}

namespace {

json::Value Strings(std::vector<std::string> items) {
  json::Value out = json::Value::Array();
  for (std::string& s : items) out.array().push_back(json::Value::String(std::move(s)));
  return out;
}

}  // namespace

void OciConfig::SetHook(std::string_view stage, std::string_view marker, std::string path,
                        std::vector<std::string> args, std::vector<std::string> env) {
  json::Value hook = json::Value::Object();
  hook.Set("path", json::Value::String(std::move(path)));
  hook.Set("args", Strings(std::move(args)));
  if (!env.empty()) hook.Set("env", Strings(std::move(env)));
  json::Value* hooks = doc_.Find("hooks");
  if (hooks == nullptr || !hooks->is_object()) hooks = &doc_.Set("hooks", json::Value::Object());
  json::Value* list = hooks->Find(stage);
  if (list == nullptr || !list->is_array()) {
    list = &hooks->Set(std::string(stage), json::Value::Array());
  }
  for (json::Value& existing : list->array()) {
    if (HookHasMarker(existing, marker)) {
      existing = std::move(hook);
      return;
    }
  }
  list->array().push_back(std::move(hook));
}

int OciConfig::CountHooks(std::string_view stage, std::string_view marker) const {
  const json::Value* hooks = doc_.Find("hooks");
  const json::Value* list = hooks != nullptr ? hooks->Find(stage) : nullptr;
  if (list == nullptr || !list->is_array()) return 0;
  int n = 0;
  for (const json::Value& hook : list->array()) n += HookHasMarker(hook, marker) ? 1 : 0;
  return n;
}

int OciConfig::RemoveHooks(std::string_view stage, std::string_view marker) {
  json::Value* hooks = doc_.Find("hooks");
  json::Value* list = hooks != nullptr ? hooks->Find(stage) : nullptr;
  if (list == nullptr || !list->is_array()) return 0;
  std::vector<json::Value>& items = list->array();
  auto end = std::remove_if(items.begin(), items.end(),
                            [&](const json::Value& hook) { return HookHasMarker(hook, marker); });
  int removed = static_cast<int>(items.end() - end);
  items.erase(end, items.end());
  return removed;
}

}  // namespace migrate::runtime
