// Reading and editing a bundle's OCI config.json (only what migrate needs), preserving
// everything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/json/json.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

// The annotation runc reads to pick a CRIU configuration file (empty value: none).
inline constexpr std::string_view kCriuConfigAnnotation = "org.criu.config";
// Marks migrate's loopback hook (prestart) in a bundle's hooks, so that a restore replaces it
// rather than adding it again.
inline constexpr std::string_view kLoopbackHookMarker = "migrate: loopback up during restore";

// True when one of the hook's args contains `marker`.
bool HookHasMarker(const json::Value& hook, std::string_view marker);

class OciConfig {
 public:
  // InvalidArgument when not JSON or not an object.
  static Result<OciConfig> Parse(std::string_view text);
  // Never through a symlink (a received bundle may hold one at config.json): kInvalidArgument.
  static Result<OciConfig> Load(const std::string& path);
  // Writes atomically (temp file + rename, neither through a symlink), pretty-printed.
  Status Save(const std::string& path) const;
  std::string ToString() const;

  // linux.cgroupsPath; nullopt when absent.
  std::optional<std::string> cgroups_path() const;
  // Sets linux.cgroupsPath (creating "linux" if needed).
  void set_cgroups_path(std::string path);

  std::optional<std::string> annotation(std::string_view key) const;
  void set_annotation(std::string_view key, std::string value);
  bool remove_annotation(std::string_view key);

  // True when linux.namespaces asks the runtime to create a namespace of `type` ("network",
  // "cgroup", ...: listed without a path).
  bool creates_namespace(std::string_view type) const;
  bool creates_network_namespace() const { return creates_namespace("network"); }

  // Sets the OCI hook of `stage` (e.g. "prestart") whose args contain `marker`: replaced in
  // place when present, appended otherwise (so repeated restores add it once).
  void SetHook(std::string_view stage, std::string_view marker, std::string path,
               std::vector<std::string> args, std::vector<std::string> env);
  // Number of hooks of `stage` whose args contain `marker`.
  int CountHooks(std::string_view stage, std::string_view marker) const;
  // Removes them; how many there were.
  int RemoveHooks(std::string_view stage, std::string_view marker);

  const json::Value& document() const { return doc_; }

 private:
  explicit OciConfig(json::Value doc) : doc_(std::move(doc)) {}
  json::Value doc_;
};

}  // namespace migrate::runtime
