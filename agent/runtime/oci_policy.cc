#include "agent/runtime/oci_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "agent/runtime/file_util.h"
#include "transfer/base/open_beneath.h"
#include "transfer/base/unique_fd.h"

namespace migrate::runtime {
namespace {

using json::Value;
using Strings = google::protobuf::RepeatedPtrField<std::string>;

// runc's own defaults (`runc spec`, libcontainer/specconv).
constexpr std::string_view kDefaultCapabilities[] = {"CAP_AUDIT_WRITE", "CAP_KILL",
                                                     "CAP_NET_BIND_SERVICE"};
constexpr std::string_view kPseudoFileSystems[] = {"proc",   "sysfs",  "tmpfs",  "devpts",
                                                   "mqueue", "cgroup", "cgroup2"};
constexpr std::string_view kPrivateNamespaces[] = {"pid", "network", "ipc", "uts", "mount"};
constexpr std::string_view kMaskedPaths[] = {
    "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/sys/firmware",       "/proc/scsi"};
constexpr std::string_view kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                               "/proc/sysrq-trigger"};
// Namespaced sysctls that touch only the container (Kubernetes' "safe" set).
constexpr std::string_view kSafeSysctls[] = {
    "kernel.shm_rmid_forced",           "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",        "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_keepalive_time",      "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",     "net.ipv4.tcp_keepalive_probes"};
// runc's default device rules and nodes ("c *:* m" and "b *:* m": mknod only).
constexpr std::string_view kDefaultDevices[] = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 1:8 rwm",
    "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"};
constexpr std::string_view kHookStages[] = {"prestart",       "createRuntime", "createContainer",
                                            "startContainer", "poststart",     "poststop"};

template <typename List>
bool Contains(const List& list, std::string_view item) {
  return std::any_of(std::begin(list), std::end(list), [&](const auto& x) { return x == item; });
}

std::string JoinWords(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string Join(const Strings& items) {
  return items.empty() ? "none" : JoinWords({items.begin(), items.end()});
}

bool HasDotDot(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

// `path` is `prefix` or below it, component-wise ("/srv/data" does not hold "/srv/data2").
bool Under(std::string_view path, std::string prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  if (prefix == "/") return true;
  return path == prefix || (path.size() > prefix.size() &&
                            path.substr(0, prefix.size()) == prefix && path[prefix.size()] == '/');
}

bool UnderAny(std::string_view path, const Strings& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return Under(path, p); });
}

std::string Str(const Value* v) {
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

// A device as "T MAJOR:MINOR ACCESS" with '*' for a wildcard ("a" type: any).
struct Device {
  char type = 'a';
  long major = -1, minor = -1;
  std::string access = "rwm";
};

bool ParseDevice(std::string_view text, Device* d) {
  std::string s(text);
  char type = 0;
  char major[16] = {}, minor[16] = {}, access[8] = "rwm";
  if (std::sscanf(s.c_str(), " %c %15[0-9*]:%15[0-9*] %7s", &type, major, minor, access) < 3) {
    return false;
  }
  d->type = type;
  d->major = std::strcmp(major, "*") == 0 ? -1 : std::atol(major);
  d->minor = std::strcmp(minor, "*") == 0 ? -1 : std::atol(minor);
  d->access = access;
  return true;
}

// An integer as runc reads it into int64 fields (one beyond is clamped, like strtol; runc
// refuses those, and fractions, so any value is as safe for them), `otherwise` when absent or
// not an integer.
long Number(const Value* v, long otherwise) {
  if (v == nullptr || !v->is_number_integer()) return otherwise;
  if (v->is_number_unsigned()) {
    return static_cast<long>(std::min<uint64_t>(v->get<uint64_t>(), LONG_MAX));
  }
  return v->get<long>();
}

// `wanted` is within `allowed` (wildcards in `allowed` cover anything; an allowed spec without
// an access covers every access).
bool Covers(const Device& allowed, const Device& wanted) {
  auto field = [](long a, long w) { return a == -1 || a == w; };
  bool type_ok = allowed.type == 'a' || allowed.type == wanted.type;
  bool access_ok = std::all_of(wanted.access.begin(), wanted.access.end(),
                               [&](char c) { return allowed.access.find(c) != std::string::npos; });
  return type_ok && field(allowed.major, wanted.major) && field(allowed.minor, wanted.minor) &&
         access_ok;
}

std::string Describe(const Device& d) {
  auto num = [](long n) { return n == -1 ? std::string("*") : std::to_string(n); };
  return std::string(1, d.type) + " " + num(d.major) + ":" + num(d.minor);
}

// Every key the rules below read, in any object. runc reads config.json with Go's
// encoding/json, which matches a key to a field whatever its case ("Hooks" is runc's hooks,
// and of "mounts" and "Mounts" the later one wins): a key these rules would not see by its
// exact name must not reach runc.
constexpr std::string_view kJudgedKeys[] = {
    // the top level, hooks, root, mounts
    "hooks", "prestart", "createRuntime", "createContainer", "startContainer", "poststart",
    "poststop", "path", "args", "root", "mounts", "type", "source", "options",
    // linux, process, annotations
    "linux", "namespaces", "devices", "major", "minor", "resources", "allow", "access", "sysctl",
    "maskedPaths", "readonlyPaths", "rootfsPropagation", "cgroupsPath", "seccomp", "process",
    "capabilities", "oomScoreAdj", "annotations"};

// Go's key folding (bytes.EqualFold): ASCII case, and the two non-ASCII letters that fold
// to ASCII ones, KELVIN SIGN (U+212A) to k and LATIN SMALL LETTER LONG S (U+017F) to s.
std::string FoldKey(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key.compare(i, 3, "\xE2\x84\xAA") == 0) {
      out += 'k';
      i += 2;
    } else if (key.compare(i, 2, "\xC5\xBF") == 0) {
      out += 's';
      i += 1;
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(key[i])));
    }
  }
  return out;
}

class Judge {
 public:
  Judge(const Value& doc, const OciPolicy& policy) : doc_(doc), policy_(policy) {}

  std::vector<std::string> Run() {
    KeySpellings(doc_, "");
    Hooks();
    Root();
    Mounts();
    const Value* linux_section = json::Find(doc_, "linux");
    static const Value kEmpty = Value::object();
    const Value& linux_part = linux_section != nullptr ? *linux_section : kEmpty;
    Namespaces(linux_part);
    Devices(linux_part);
    DeviceRules(linux_part);
    Sysctls(linux_part);
    Capabilities();
    Hardening(linux_part);
    Annotations();
    CgroupsPath(linux_part);
    return std::move(violations_);
  }

 private:
  void Refuse(std::string what) { violations_.push_back(std::move(what)); }

  // The array at `v` (absent: empty); a present non-array is a violation.
  const Value::array_t& Array(const Value* v, const std::string& what) {
    static const Value::array_t kNone;
    if (v == nullptr || v->is_null()) return kNone;
    if (!v->is_array()) {
      Refuse(what + ": not an array");
      return kNone;
    }
    return v->get_ref<const Value::array_t&>();
  }

  // A key that runc reads as one of kJudgedKeys must be spelled exactly so. The keys of
  // annotations and sysctl are data (Go maps match them exactly), not fields.
  void KeySpellings(const Value& v, const std::string& where) {
    if (v.is_array()) {
      for (const Value& item : v) KeySpellings(item, where);
      return;
    }
    if (!v.is_object()) return;
    for (const auto& [key, value] : v.items()) {
      const std::string folded = FoldKey(key);
      for (std::string_view judged : kJudgedKeys) {
        if (key != judged && folded == FoldKey(judged)) {
          Refuse((where.empty() ? "" : where + ": ") + "key \"" + key + "\" is read by runc as \"" +
                 std::string(judged) + "\" (Go's JSON matches keys whatever their case); only \"" +
                 std::string(judged) + "\" is judged");
        }
      }
      if (key != "annotations" && key != "sysctl") {
        KeySpellings(value, where.empty() ? key : where + "." + key);
      }
    }
  }

  void Hooks() {
    const Value* hooks = json::Find(doc_, "hooks");
    if (hooks == nullptr || hooks->is_null()) return;
    if (!hooks->is_object()) return Refuse("hooks: not an object");
    for (const auto& [stage, list] : hooks->items()) {
      const Value::array_t& items = Array(&list, "hooks." + stage);
      for (size_t i = 0; i < items.size(); ++i) {
        // Migrate's own, from an earlier restore: the restore removes every one of them.
        if (stage == "prestart" && HookHasMarker(items[i], kLoopbackHookMarker)) continue;
        std::string path = Str(json::Find(items[i], "path"));
        if (!Contains(policy_.allowed_hook_paths(), path)) {
          Refuse("hooks." + stage + "[" + std::to_string(i) + "]: runs " + path +
                 " on this host (allowed_hook_paths: " + Join(policy_.allowed_hook_paths()) + ")" +
                 (Contains(kHookStages, stage) ? "" : "; unknown hook stage"));
        }
      }
    }
  }

  void Root() {
    const Value* root = json::Find(doc_, "root");
    std::string path = root != nullptr ? Str(json::Find(*root, "path")) : "";
    if (path.empty() || path[0] == '/' || HasDotDot(path)) {
      Refuse("root.path '" + path + "': must be a relative path inside the bundle, without '..'");
    }
  }

  void Mounts() {
    const Value::array_t& mounts = Array(json::Find(doc_, "mounts"), "mounts");
    for (size_t i = 0; i < mounts.size(); ++i)
      Mount(mounts[i], "mounts[" + std::to_string(i) + "]");
  }

  void Mount(const Value& m, const std::string& where) {
    std::string type = Str(json::Find(m, "type"));
    std::string source = Str(json::Find(m, "source"));
    bool bind = type == "bind";
    for (const Value& option : Array(json::Find(m, "options"), where + ".options")) {
      const std::string o = Str(&option);
      if (o == "bind" || o == "rbind") bind = true;
      if (o == "shared" || o == "rshared") Refuse(where + ": " + o + " (shared propagation)");
    }
    if (!bind) {
      if (!Contains(kPseudoFileSystems, type) && !Contains(policy_.allowed_mount_types(), type)) {
        Refuse(where + ": mount type " + (type.empty() ? "(none)" : type) + " of " + source +
               " (allowed_mount_types: " + Join(policy_.allowed_mount_types()) + ")");
      }
      return;
    }
    if (source.empty() || source[0] != '/') {
      return Refuse(where + ": bind mount of relative path " + source +
                    " (runc resolves it on the host, through the bundle's links)");
    }
    if (HasDotDot(source)) return Refuse(where + ": bind mount of " + source + " with '..'");
    if (!UnderAny(source, policy_.allowed_bind_prefixes())) {
      Refuse(where + ": bind mount of " + source + " from this host: not under an allowed prefix " +
             "(allowed_bind_prefixes: " + Join(policy_.allowed_bind_prefixes()) + ")");
    }
  }

  void Namespaces(const Value& linux_part) {
    std::vector<std::string> present;
    const Value::array_t& list = Array(json::Find(linux_part, "namespaces"), "linux.namespaces");
    for (const Value& ns : list) {
      const Value* type = json::Find(ns, "type");
      if (type == nullptr || !type->is_string()) {
        Refuse("linux.namespaces: an entry without a type");
        continue;
      }
      present.push_back(type->get_ref<const std::string&>());
      std::string path = Str(json::Find(ns, "path"));
      if (!path.empty() &&
          (HasDotDot(path) || !UnderAny(path, policy_.allowed_namespace_path_prefixes()))) {
        Refuse("linux.namespaces: joins the " + type->get_ref<const std::string&>() +
               " namespace " + path + " (allowed_namespace_path_prefixes: " +
               Join(policy_.allowed_namespace_path_prefixes()) + ")");
      }
    }
    std::vector<std::string> shared;
    for (std::string_view type : kPrivateNamespaces) {
      if (!Contains(present, type) && !Contains(policy_.allowed_host_namespaces(), type)) {
        shared.emplace_back(type);
      }
    }
    if (!shared.empty()) {
      Refuse("linux.namespaces: shares the host's " + JoinWords(shared) +
             (shared.size() > 1 ? " namespaces" : " namespace") +
             " (allowed_host_namespaces: " + Join(policy_.allowed_host_namespaces()) + ")");
    }
  }

  bool DeviceAllowed(const Device& d) {
    auto covers = [&](std::string_view spec) {
      Device allowed;
      return ParseDevice(spec, &allowed) && Covers(allowed, d);
    };
    return std::any_of(std::begin(kDefaultDevices), std::end(kDefaultDevices), covers) ||
           std::any_of(policy_.allowed_devices().begin(), policy_.allowed_devices().end(),
                       [&](const std::string& s) { return covers(s); });
  }

  void Devices(const Value& linux_part) {
    const Value::array_t& devices = Array(json::Find(linux_part, "devices"), "linux.devices");
    for (size_t i = 0; i < devices.size(); ++i) {
      Device d;
      std::string type = Str(json::Find(devices[i], "type"));
      d.type = type.size() == 1 ? type[0] : '?';
      d.major = Number(json::Find(devices[i], "major"), -2);
      d.minor = Number(json::Find(devices[i], "minor"), -2);
      d.access = "rw";
      if (!DeviceAllowed(d)) {
        Refuse("linux.devices[" + std::to_string(i) + "]: " + Str(json::Find(devices[i], "path")) +
               " (" + Describe(d) + ") beyond runc's defaults (allowed_devices: " +
               Join(policy_.allowed_devices()) + ")");
      }
    }
  }

  void DeviceRules(const Value& linux_part) {
    const Value* resources = json::Find(linux_part, "resources");
    if (resources == nullptr) return;
    const Value::array_t& rules =
        Array(json::Find(*resources, "devices"), "linux.resources.devices");
    for (size_t i = 0; i < rules.size(); ++i) {
      const Value* allow = json::Find(rules[i], "allow");
      if (allow == nullptr || !allow->is_boolean() || !allow->get<bool>()) continue;
      Device d;
      std::string type = Str(json::Find(rules[i], "type"));
      d.type = type.empty() ? 'a' : type[0];
      d.major = Number(json::Find(rules[i], "major"), -1);
      d.minor = Number(json::Find(rules[i], "minor"), -1);
      d.access = Str(json::Find(rules[i], "access"));
      if (d.access.empty()) d.access = "rwm";
      if (!DeviceAllowed(d)) {
        Refuse("linux.resources.devices[" + std::to_string(i) + "]: allows " + Describe(d) + " " +
               d.access + " beyond runc's defaults (allowed_devices: " +
               Join(policy_.allowed_devices()) + ")");
      }
    }
  }

  bool SysctlAllowed(const std::string& name) {
    if (Contains(kSafeSysctls, name)) return true;
    return std::any_of(policy_.allowed_sysctls().begin(), policy_.allowed_sysctls().end(),
                       [&](const std::string& p) {
                         if (!p.empty() && p.back() == '*') {
                           return name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0;
                         }
                         return p == name;
                       });
  }

  void Sysctls(const Value& linux_part) {
    const Value* sysctl = json::Find(linux_part, "sysctl");
    if (sysctl == nullptr || sysctl->is_null()) return;
    if (!sysctl->is_object()) return Refuse("linux.sysctl: not an object");
    for (const auto& [name, value] : sysctl->items()) {
      if (!SysctlAllowed(name)) {
        Refuse("linux.sysctl " + name + " outside the namespaced safe set (allowed_sysctls: " +
               Join(policy_.allowed_sysctls()) + ")");
      }
    }
  }

  void Capabilities() {
    const Value* process = json::Find(doc_, "process");
    const Value* caps = process != nullptr ? json::Find(*process, "capabilities") : nullptr;
    if (caps == nullptr || caps->is_null()) return;  // none at all
    if (!caps->is_object()) return Refuse("process.capabilities: not an object");
    for (const auto& [set, list] : caps->items()) {
      for (const Value& cap : Array(&list, "process.capabilities." + set)) {
        std::string name = Str(&cap);
        if (!Contains(kDefaultCapabilities, name) &&
            !Contains(policy_.allowed_capabilities(), name)) {
          Refuse("process.capabilities." + set + ": " + name +
                 " beyond runc's default set (allowed_capabilities: " +
                 Join(policy_.allowed_capabilities()) + ")");
        }
      }
    }
  }

  void RequirePaths(const Value& linux_part, const char* key, const char* what,
                    const std::string_view* begin, const std::string_view* end) {
    std::vector<std::string> have, missing;
    for (const Value& p : Array(json::Find(linux_part, key), std::string("linux.") + key)) {
      have.push_back(Str(&p));
    }
    for (const std::string_view* p = begin; p != end; ++p) {
      if (!Contains(have, *p)) missing.emplace_back(*p);
    }
    if (!missing.empty()) {
      Refuse(std::string("linux.") + key + ": runc's " + what + " left out: " + JoinWords(missing) +
             " (allow_unmasked_paths)");
    }
  }

  void Hardening(const Value& linux_part) {
    if (!policy_.allow_unmasked_paths()) {
      RequirePaths(linux_part, "maskedPaths", "masked paths", std::begin(kMaskedPaths),
                   std::end(kMaskedPaths));
      RequirePaths(linux_part, "readonlyPaths", "read-only paths", std::begin(kReadonlyPaths),
                   std::end(kReadonlyPaths));
    }
    std::string propagation = Str(json::Find(linux_part, "rootfsPropagation"));
    if (propagation == "shared" || propagation == "rshared") {
      Refuse("linux.rootfsPropagation " + propagation + " (mounts would reach this host)");
    }
    const Value* process = json::Find(doc_, "process");
    long oom = Number(process != nullptr ? json::Find(*process, "oomScoreAdj") : nullptr, 0);
    if (oom < 0 && !policy_.allow_negative_oom_score_adj()) {
      Refuse("process.oomScoreAdj " + std::to_string(oom) +
             " (the container would outlive this host's own processes under memory pressure; "
             "allow_negative_oom_score_adj)");
    }
    if (policy_.require_seccomp() && json::Find(linux_part, "seccomp") == nullptr) {
      Refuse("no linux.seccomp (require_seccomp)");
    }
  }

  void Annotations() {
    const Value* annotations = json::Find(doc_, "annotations");
    if (annotations == nullptr || !annotations->is_object()) return;
    for (const auto& [key, value] : annotations->items()) {
      if (key.rfind("org.systemd.property.", 0) == 0) {
        Refuse("annotation " + key + " (systemd unit properties of this host)");
      }
    }
  }

  void CgroupsPath(const Value& linux_part) {
    const Value* value = json::Find(linux_part, "cgroupsPath");
    if (value == nullptr) return;
    std::string path = Str(value);
    if (HasDotDot(path)) return Refuse("linux.cgroupsPath " + path + " with '..'");
    if (!policy_.allowed_cgroup_prefixes().empty() &&
        !UnderAny(path, policy_.allowed_cgroup_prefixes())) {
      Refuse("linux.cgroupsPath " + path +
             " not under an allowed prefix (allowed_cgroup_prefixes: " +
             Join(policy_.allowed_cgroup_prefixes()) + ")");
    }
  }

  const Value& doc_;
  const OciPolicy& policy_;
  std::vector<std::string> violations_;
};

}  // namespace

std::vector<std::string> OciPolicyViolations(const OciConfig& config, const OciPolicy& policy) {
  return Judge(config.document(), policy).Run();
}

Status CheckOciConfigAgainstPolicy(const OciConfig& config, const OciPolicy& policy) {
  std::vector<std::string> violations = OciPolicyViolations(config, policy);
  if (violations.empty()) return Status::Ok();
  std::string message =
      "config.json asks more of this host than its policy for received "
      "containers allows (docs/agent.md):";
  for (const std::string& v : violations) message += " " + v + ";";
  message.pop_back();
  return Status::PermissionDenied(message);
}

Status ValidateOciPolicy(const OciPolicy& policy) {
  auto absolute = [](const Strings& paths, const char* field) {
    for (const std::string& p : paths) {
      if (p.empty() || p[0] != '/' || HasDotDot(p)) {
        return Status::InvalidArgument(std::string(field) + ": '" + p +
                                       "' is not an absolute path without '..'");
      }
    }
    return Status::Ok();
  };
  MIGRATE_RETURN_IF_ERROR(absolute(policy.allowed_hook_paths(), "allowed_hook_paths"));
  MIGRATE_RETURN_IF_ERROR(absolute(policy.allowed_bind_prefixes(), "allowed_bind_prefixes"));
  MIGRATE_RETURN_IF_ERROR(
      absolute(policy.allowed_namespace_path_prefixes(), "allowed_namespace_path_prefixes"));
  MIGRATE_RETURN_IF_ERROR(absolute(policy.allowed_cgroup_prefixes(), "allowed_cgroup_prefixes"));
  for (const std::string& ns : policy.allowed_host_namespaces()) {
    if (!Contains(kPrivateNamespaces, ns)) {
      return Status::InvalidArgument("allowed_host_namespaces: '" + ns +
                                     "' is none of pid, network, ipc, uts, mount");
    }
  }
  for (const std::string& spec : policy.allowed_devices()) {
    Device d;
    if (!ParseDevice(spec, &d) || std::string("abc").find(d.type) == std::string::npos) {
      return Status::InvalidArgument("allowed_devices: '" + spec +
                                     "' is not like \"c 10:229\" or \"b 8:*\"");
    }
  }
  for (const std::string& cap : policy.allowed_capabilities()) {
    if (cap.rfind("CAP_", 0) != 0) {
      return Status::InvalidArgument("allowed_capabilities: '" + cap + "' is not a CAP_* name");
    }
  }
  return Status::Ok();
}

Status CheckReceivedBundle(const std::string& bundle_dir, const OciConfig& config) {
  transfer::UniqueFd bundle(::open(bundle_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (bundle.get() < 0) return Status::FromErrno("open bundle " + bundle_dir, errno);
  transfer::UniqueFd file(transfer::OpenBeneath(bundle.get(), "config.json", O_PATH));
  struct stat st;
  if (file.get() < 0 || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::PermissionDenied(bundle_dir + "/config.json is not a regular file (" +
                                    std::strerror(errno) + ")");
  }
  const Value* root = json::Find(config.document(), "root");
  std::string path = root != nullptr ? Str(json::Find(*root, "path")) : "";
  transfer::UniqueFd rootfs(
      path.empty() ? -1 : transfer::OpenBeneath(bundle.get(), path, O_PATH | O_DIRECTORY));
  if (rootfs.get() < 0) {
    return Status::PermissionDenied("root.path '" + path + "' is not a directory inside " +
                                    bundle_dir + " reached without a symlink (" +
                                    std::strerror(errno) + ")");
  }
  return Status::Ok();
}

}  // namespace migrate::runtime
