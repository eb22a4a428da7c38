#include "tests/support/container_sandbox.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/node_probe.h"
#include "transfer/json/json.h"
#include "tests/support/poll.h"

namespace migrate::testing {
namespace {

using json::Value;

constexpr const char* kBusybox = "/bin/busybox";

std::string RandomSuffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

ContainerSandbox::ContainerSandbox(std::string dir, runtime::ProcessRunner* runner)
    : dir_(std::move(dir)),
      runc_root_(dir_ + "/runc-root"),
      cgroup_prefix_("/migrate-rt-" + RandomSuffix()),
      runner_(runner) {}

std::vector<std::string> ContainerSandbox::Runc(std::vector<std::string> args) const {
  std::vector<std::string> argv = prefix_;
  argv.insert(argv.end(), {"runc", "--root", runc_root_});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<std::unique_ptr<ContainerSandbox>> ContainerSandbox::Create(const std::string& name,
                                                                   runtime::ProcessRunner* runner) {
  std::string safe = name;
  std::replace_if(
      safe.begin(), safe.end(), [](char c) { return c == '/' || c == ' '; }, '_');
  std::string tmpl = "/tmp/migrate-rt-" + safe + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno("mkdtemp", errno);
  std::unique_ptr<ContainerSandbox> sandbox(new ContainerSandbox(tmpl, runner));
  MIGRATE_RETURN_IF_ERROR(runtime::MakeDirs(sandbox->runc_root(), 0700));
  return sandbox;
}

ContainerSandbox::~ContainerSandbox() {
  Status s = Cleanup();
  if (!s.ok()) std::cerr << "ContainerSandbox cleanup: " << s.ToString() << "\n";
}

Result<std::string> ContainerSandbox::MakeDir(const std::string& name) {
  std::string path = dir_ + "/" + name;
  MIGRATE_RETURN_IF_ERROR(runtime::MakeDirs(path));
  return path;
}

std::string ContainerSandbox::CgroupPath(const std::string& leaf) {
  std::string path = cgroup_prefix_ + "/" + leaf;
  TrackCgroup(path);
  return path;
}

void ContainerSandbox::TrackCgroup(const std::string& cgroups_path) {
  if (std::find(cgroups_.begin(), cgroups_.end(), cgroups_path) == cgroups_.end()) {
    cgroups_.push_back(cgroups_path);
  }
}

void ContainerSandbox::TrackContainer(const std::string& id) {
  if (std::find(containers_.begin(), containers_.end(), id) == containers_.end()) {
    containers_.push_back(id);
  }
}

Result<std::string> ContainerSandbox::MakeCountingBundle(const std::string& name,
                                                         const BundleOptions& options) {
  std::string bundle = dir_ + "/" + name;
  std::string rootfs = bundle + "/rootfs";
  for (const char* sub : {"/bin", "/proc", "/sys", "/dev", "/tmp", "/etc"}) {
    MIGRATE_RETURN_IF_ERROR(runtime::MakeDirs(rootfs + sub));
  }
  MIGRATE_ASSIGN_OR_RETURN(std::string busybox, runtime::ReadFile(kBusybox));
  MIGRATE_RETURN_IF_ERROR(runtime::WriteFileAtomic(rootfs + "/bin/busybox", busybox, 0755));
  for (const char* applet :
       {"sh", "usleep", "mv", "cat", "sleep", "ls", "ip", "nc", "echo", "grep"}) {
    std::string link = rootfs + "/bin/" + applet;
    if (::symlink("busybox", link.c_str()) != 0 && errno != EEXIST) {
      return Status::FromErrno("symlink " + link, errno);
    }
  }

  runtime::ProcessSpec spec;
  spec.argv = {"runc", "spec", "--bundle", bundle};
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_RETURN_IF_ERROR(runtime::RunChecked(*runner_, spec).status());
  MIGRATE_ASSIGN_OR_RETURN(std::string text, runtime::ReadFile(bundle + "/config.json"));
  MIGRATE_ASSIGN_OR_RETURN(Value doc, json::Parse(text));

  Value* process = json::Find(doc, "process");
  Value* root = json::Find(doc, "root");
  Value* linux_section = json::Find(doc, "linux");
  if (process == nullptr || root == nullptr || linux_section == nullptr || !process->is_object() ||
      !root->is_object() || !linux_section->is_object()) {
    return Status::Internal("runc spec produced no process/root/linux");
  }
  (*process)["terminal"] = false;
  // Counts into /count, replaced atomically so that a reader never sees a partial write.
  std::string loop =
      "i=0; while true; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; "
      "usleep " +
      std::to_string(options.interval_ms * 1000) + "; done";
  (*process)["args"] = {"/bin/sh", "-c", options.script.empty() ? loop : options.script};
  (*root)["readonly"] = false;
  if (!options.cgroups_path.empty()) {
    (*linux_section)["cgroupsPath"] = options.cgroups_path;
  }
  if (Value* ns = json::Find(*linux_section, "namespaces"); ns != nullptr && ns->is_array()) {
    Value kept = Value::array();
    for (Value& entry : *ns) {
      const Value* type = json::Find(entry, "type");
      std::string ns_type = type != nullptr && type->is_string() ? type->get<std::string>() : "";
      if (ns_type == "network" && !options.new_network_namespace) continue;
      if (std::find(options.drop_namespaces.begin(), options.drop_namespaces.end(), ns_type) !=
          options.drop_namespaces.end()) {
        continue;
      }
      kept.push_back(std::move(entry));
    }
    *ns = std::move(kept);
  }
  if (options.criu_config) {
    doc["annotations"]["org.criu.config"] = *options.criu_config;
  }
  MIGRATE_RETURN_IF_ERROR(
      runtime::WriteFileAtomic(bundle + "/config.json", json::Serialize(doc, 2)));
  return bundle;
}

Status ContainerSandbox::RunDetached(const std::string& id, const std::string& bundle) {
  TrackContainer(id);
  runtime::ProcessSpec spec;
  spec.argv = Runc({"run", "--detach", "--bundle", bundle, id});
  // The container inherits runc's stdio: /dev/null, never a pipe (it would be held open)
  // nor a file outside the container (CRIU could not dump it).
  spec.output = runtime::OutputMode::kDevNull;
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_ASSIGN_OR_RETURN(runtime::ProcessResult r, runner_->Run(spec));
  if (!r.Succeeded()) {
    return Status::FailedPrecondition(runtime::FormatCommand(spec.argv) + ": " + r.Describe());
  }
  return Status::Ok();
}

Status ContainerSandbox::Cleanup() {
  if (cleaned_) return Status::Ok();
  cleaned_ = true;
  Status first;
  auto note = [&](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  for (const std::string& id : containers_) {
    runtime::ProcessSpec kill;
    kill.argv = Runc({"kill", id, "KILL"});
    kill.timeout = std::chrono::seconds(10);
    (void)runner_->Run(kill);
    runtime::ProcessSpec del;
    del.argv = Runc({"delete", "--force", id});
    del.timeout = std::chrono::seconds(30);
    (void)runner_->Run(del);
  }
  // Cgroup dirs: the leaf first, then its parents up to (not including) the mount root.
  for (const std::string& mount : CgroupMountPoints()) {
    for (const std::string& path : cgroups_) {
      std::string rel = path;
      while (!rel.empty() && rel != "/") {
        std::string dir = mount + rel;
        bool gone = PollUntil(
            [&] { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT || errno == ENOTEMPTY; },
            std::chrono::seconds(5));
        if (!gone) note(Status::FromErrno("rmdir " + dir, errno));
        size_t slash = rel.rfind('/');
        if (slash == std::string::npos || slash == 0) break;
        rel = rel.substr(0, slash);
      }
    }
  }
  note(runtime::RemoveTree(dir_));
  return first;
}

Result<long> ReadCount(const std::string& bundle, const std::string& file) {
  Result<std::string> text = runtime::ReadFile(bundle + "/rootfs/" + file);
  if (!text.ok()) return text.status();
  char* end = nullptr;
  long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str()) return Status::DataLoss("count file holds \"" + *text + "\"");
  return value;
}

Result<long> WaitForCountAbove(const std::string& bundle, long above,
                               std::chrono::milliseconds timeout, const std::string& file) {
  long last = -1;
  bool ok = PollUntil(
      [&] {
        Result<long> c = ReadCount(bundle, file);
        if (c.ok()) last = *c;
        return c.ok() && *c > above;
      },
      timeout);
  if (!ok) {
    return Status::DeadlineExceeded("count did not pass " + std::to_string(above) + " within " +
                                    std::to_string(timeout.count()) + " ms (last " +
                                    std::to_string(last) + ")");
  }
  return last;
}

std::vector<std::string> CgroupMountPoints() {
  std::vector<std::string> mounts;
  Result<std::string> mountinfo = runtime::ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return mounts;
  for (const runtime::CgroupMount& mount : runtime::ParseCgroupMounts(*mountinfo)) {
    mounts.push_back(mount.mount_point);
  }
  return mounts;
}

}  // namespace migrate::testing
