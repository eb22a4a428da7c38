#include "controller/inventory.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "transfer/json/json.h"

namespace migrate::controller {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

Status Missing(const std::string& origin, const std::string& field, const std::string& hint) {
  return Status::InvalidArgument("inventory " + origin + ": missing " + field + " (" + hint + ")");
}

}  // namespace

std::string ChooseInventoryPath(const std::string& flag_value, const char* env_value) {
  if (!flag_value.empty()) return flag_value;
  if (env_value != nullptr && env_value[0] != '\0') return env_value;
  return kDefaultInventoryPath;
}

Result<proto::Inventory> ParseInventory(std::string_view json, const std::string& base_dir,
                                        const std::string& origin) {
  // protobuf's JSON parser says what is wrong but not where: check the syntax first so that
  // the error names the line and column.
  if (Status syntax = json::Parse(json).status(); !syntax.ok()) {
    return Status::InvalidArgument("inventory " + origin + " is not valid " + syntax.message());
  }
  proto::Inventory inventory;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a field name must not pass silently
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(std::string(json), &inventory, options);
  if (!parsed.ok()) {
    return Status::InvalidArgument("inventory " + origin + ": " + std::string(parsed.message()) +
                                   " (expected {\"hosts\": [{\"name\", \"address\", \"port\", "
                                   "\"data_address\"}...], \"controller\": {\"ca\", \"cert\", "
                                   "\"key\"}})");
  }
  if (inventory.hosts_size() == 0) {
    return Missing(origin, "\"hosts\"", "a list of {\"name\", \"address\", \"port\"}");
  }
  std::set<std::string> names;
  for (int i = 0; i < inventory.hosts_size(); ++i) {
    proto::InventoryHost& host = *inventory.mutable_hosts(i);
    const std::string where = "hosts[" + std::to_string(i) + "]";
    if (host.name().empty()) {
      return Missing(origin, where + ".name", "the node name, as in its certificate");
    }
    const std::string named = where + " (\"" + host.name() + "\")";
    if (host.address().empty()) {
      return Missing(origin, named + ".address", "host name or IP of the agent's API");
    }
    if (host.port() == 0) return Missing(origin, named + ".port", "the agent's API port");
    if (host.port() > 65535) {
      return Status::InvalidArgument("inventory " + origin + ": " + named + ".port " +
                                     std::to_string(host.port()) + " is not in 1..65535");
    }
    if (!names.insert(host.name()).second) {
      return Status::InvalidArgument("inventory " + origin + ": duplicate host name \"" +
                                     host.name() + "\" (" + where + ")");
    }
    if (host.data_address().empty()) host.set_data_address(host.address());
  }
  proto::ControllerTlsFiles& tls = *inventory.mutable_controller();
  if (tls.ca().empty()) return Missing(origin, "controller.ca", "PEM file of the cluster CA");
  if (tls.cert().empty()) {
    return Missing(origin, "controller.cert", "PEM file of the controller's certificate");
  }
  if (tls.key().empty()) return Missing(origin, "controller.key", "PEM file of its private key");
  tls.set_ca(Resolve(base_dir, tls.ca()));
  tls.set_cert(Resolve(base_dir, tls.cert()));
  tls.set_key(Resolve(base_dir, tls.key()));
  if (!tls.crl().empty()) tls.set_crl(Resolve(base_dir, tls.crl()));
  return inventory;
}

Result<proto::Inventory> LoadInventory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string hint = " (give --hosts FILE or set $" + std::string(kInventoryEnvVar) +
                       "; see docs/controller.md for the format)";
    if (err == ENOENT) {
      return Status::NotFound("inventory " + path + " does not exist" + hint);
    }
    return Status::FromErrno("cannot open inventory " + path, err);
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read inventory " + path);
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  if (base_dir.empty()) base_dir = ".";
  base_dir = std::filesystem::absolute(base_dir).lexically_normal().string();
  return ParseInventory(content.str(), base_dir, path);
}

Result<proto::InventoryHost> FindHost(const proto::Inventory& inventory, std::string_view name) {
  std::string known;
  for (const proto::InventoryHost& host : inventory.hosts()) {
    if (host.name() == name) return host;
    if (!known.empty()) known += ", ";
    known += host.name();
  }
  return Status::NotFound("unknown host \"" + std::string(name) +
                          "\" (the inventory knows: " + known + ")");
}

}  // namespace migrate::controller
