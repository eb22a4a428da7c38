// Real containers for tests: a temp dir with its own runc root, busybox bundles that count,
// and cleanup of everything (containers, cgroup dirs under every controller, files), even
// when the test fails.
//
//   auto sandbox = ContainerSandbox::Create("ckpt");           // /tmp/migrate-rt-ckpt-XXXX
//   BundleOptions opts; opts.cgroups_path = sandbox->CgroupPath("c1");
//   auto bundle = sandbox->MakeCountingBundle("c1", opts);
//   ASSERT_TRUE(sandbox->RunDetached("c1", *bundle).ok());
//   auto count = WaitForCountAbove(*bundle, 0, 5s);
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/process_runner.h"
#include "transfer/base/status.h"

namespace migrate::testing {

struct BundleOptions {
  // linux.cgroupsPath (use ContainerSandbox::CgroupPath for a unique, cleaned-up one).
  std::string cgroups_path;
  // A network namespace created by the runtime (no path). false: share the caller's.
  bool new_network_namespace = true;
  // Other namespaces of `runc spec`'s default set (pid, ipc, uts, mount) to leave out.
  std::vector<std::string> drop_namespaces;
  // org.criu.config annotation; nullopt: none.
  std::optional<std::string> criu_config;
  // Time between increments of /count.
  int interval_ms = 50;
  // Replaces the counting loop: the `sh -c` script the container runs (busybox applets sh,
  // usleep, mv, cat, sleep, ls, ip, nc, echo, grep are linked in /bin).
  std::string script;
};

class ContainerSandbox {
 public:
  // Creates /tmp/migrate-rt-<name>-XXXXXX with a runc root inside.
  static Result<std::unique_ptr<ContainerSandbox>> Create(const std::string& name,
                                                          runtime::ProcessRunner* runner);
  ~ContainerSandbox();  // Cleanup(); errors are printed, not thrown
  ContainerSandbox(const ContainerSandbox&) = delete;
  ContainerSandbox& operator=(const ContainerSandbox&) = delete;

  const std::string& dir() const { return dir_; }
  // The runc --root used for every container of this sandbox (default <dir>/runc-root).
  const std::string& runc_root() const { return runc_root_; }
  // Use another runc root, e.g. a test host's (HOST_A_RUNC_ROOT).
  void set_runc_root(std::string root) { runc_root_ = std::move(root); }
  // Prefix for every runc command, e.g. {"nsenter", "--net=/run/netns/host-a"} to run the
  // containers inside a test host's network namespace (never `ip netns exec`: it breaks runc).
  void set_command_prefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // A fresh directory under dir() (e.g. "images", "work").
  Result<std::string> MakeDir(const std::string& name);

  // "/migrate-rt-<unique>/<leaf>": unique per sandbox; every controller's directory for it
  // (and the parent) is removed at cleanup.
  std::string CgroupPath(const std::string& leaf);
  // Registers another cgroupsPath for removal at cleanup (e.g. one a restore moved into).
  void TrackCgroup(const std::string& cgroups_path);

  // Builds <dir>/<name>: rootfs with busybox-static, config.json from `runc spec`, edited
  // so the process counts into /count (atomically replaced) with stdio on /dev/null.
  Result<std::string> MakeCountingBundle(const std::string& name, const BundleOptions& options);
  // `runc --root <root> run -d -b <bundle> <id>` with stdio on /dev/null; tracked for cleanup.
  Status RunDetached(const std::string& id, const std::string& bundle);
  // Track a container id created by other means (e.g. a restore) for cleanup.
  void TrackContainer(const std::string& id);

  // Kills and deletes tracked containers, removes tracked cgroup dirs, removes dir().
  Status Cleanup();

 private:
  ContainerSandbox(std::string dir, runtime::ProcessRunner* runner);
  std::vector<std::string> Runc(std::vector<std::string> args) const;
  std::string dir_;
  std::string runc_root_;
  std::vector<std::string> prefix_;
  std::string cgroup_prefix_;
  runtime::ProcessRunner* runner_;
  std::vector<std::string> containers_;
  std::vector<std::string> cgroups_;
  bool cleaned_ = false;
};

// The container's current count, read from the host through the bundle's rootfs (`file`
// relative to the rootfs). NotFound before the first write.
Result<long> ReadCount(const std::string& bundle, const std::string& file = "count");
// Polls until the count exceeds `above`; returns it. DeadlineExceeded otherwise.
Result<long> WaitForCountAbove(const std::string& bundle, long above,
                               std::chrono::milliseconds timeout,
                               const std::string& file = "count");

// Mount points of every cgroup hierarchy (v1 controllers, name=systemd, unified v2).
std::vector<std::string> CgroupMountPoints();

}  // namespace migrate::testing
