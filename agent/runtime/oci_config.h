// Reading and editing a bundle's OCI config.json (only what migrate needs), preserving
// everything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/runtime/json.h"
#include "transfer/status.h"

namespace migrate::runtime {

// The annotation runc reads to pick a CRIU configuration file (empty value: none).
inline constexpr std::string_view kCriuConfigAnnotation = "org.criu.config";

class OciConfig {
 public:
  // InvalidArgument when not JSON or not an object.
  static Result<OciConfig> Parse(std::string_view text);
  static Result<OciConfig> Load(const std::string& path);
  // Writes atomically (temp file + rename), pretty-printed.
  Status Save(const std::string& path) const;
  std::string ToString() const;

  // linux.cgroupsPath; nullopt when absent.
  std::optional<std::string> cgroups_path() const;
  // Sets linux.cgroupsPath (creating "linux" if needed).
  void set_cgroups_path(std::string path);

  std::optional<std::string> annotation(std::string_view key) const;
  void set_annotation(std::string_view key, std::string value);
  bool remove_annotation(std::string_view key);

  const json::Value& document() const { return doc_; }

 private:
  explicit OciConfig(json::Value doc) : doc_(std::move(doc)) {}
  json::Value doc_;
};

}  // namespace migrate::runtime
