#include "agent/runtime/oci_config.h"

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
  Result<std::string> text = ReadFile(path);
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

}  // namespace migrate::runtime
