// What a container received from another node may ask of this host. runc obeys a
// config.json as written, as root, on the destination: hooks it runs on the host, bind mounts
// of host paths, namespaces it joins, devices, sysctls, capabilities. A source node is not
// trusted with that, so the destination judges the config.json the source sent (before
// migrate's own edit of it) against its own policy (proto::ReceivedContainerPolicy in the
// agent config; the empty policy is the safe default: runc's `runc spec` defaults and
// nothing more). Pure functions (the bundle check excepted): no runc, no network.
//
// The rules, in docs/agent.md ("Policy for received containers"):
//   hooks      every hook of every stage runs an executable in allowed_hook_paths (none by
//              default); hooks marked as migrate's own loopback hook are not judged:
//              RuncRuntime::Restore removes them all and adds this node's own
//   root       root.path relative, without ".."
//   mounts     bind mounts (type "bind", or option bind/rbind) from an absolute host path
//              under allowed_bind_prefixes; other types only proc, sysfs, tmpfs, devpts,
//              mqueue, cgroup, cgroup2 and allowed_mount_types; no shared propagation
//   namespaces joined by path only under allowed_namespace_path_prefixes; pid, network, ipc,
//              uts and mount all present unless named in allowed_host_namespaces
//   devices    linux.devices and allow rules of linux.resources.devices within runc's
//              defaults (null, zero, full, random, urandom, tty, console, ptmx, pts, tun,
//              mknod) or allowed_devices
//   sysctls    the namespaced safe set (as Kubernetes') or allowed_sysctls
//   caps       every set within CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE (runc's
//              default) or allowed_capabilities
//   hardening  runc's masked and read-only /proc and /sys paths kept (unless
//              allow_unmasked_paths; without them a root process can write
//              /proc/sysrq-trigger), oomScoreAdj >= 0 (unless allowed), seccomp present if
//              require_seccomp
//   others     no org.systemd.property.* annotations; cgroupsPath without ".." and under
//              allowed_cgroup_prefixes when there are any
//   keys       every key these rules read is spelled exactly: runc (Go's encoding/json)
//              matches keys whatever their case, so "Hooks" or "Mounts" would reach runc
//              unjudged
#pragma once

#include <string>
#include <vector>

#include "agent/runtime/oci_config.h"
#include "proto/agent_config.pb.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

using OciPolicy = proto::ReceivedContainerPolicy;

// Every way `config` goes beyond `policy`, one line each ("mounts[3]: bind mount of /etc:
// not under an allowed prefix (allowed_bind_prefixes: none)"); empty when it passes.
std::vector<std::string> OciPolicyViolations(const OciConfig& config, const OciPolicy& policy);

// OK, or kPermissionDenied naming every violation. Call it on the config.json the source will
// send (destination preflight) and on the one it sent (restore, before RuncRuntime::Restore
// edits it).
Status CheckOciConfigAgainstPolicy(const OciConfig& config, const OciPolicy& policy);

// kInvalidArgument naming the first entry of `policy` that cannot mean what it says (a
// relative path or prefix, a device spec that does not parse, an unknown namespace type, a
// capability not named CAP_*): a typo must not silently allow nothing or everything.
Status ValidateOciPolicy(const OciPolicy& policy);

// The received bundle's own shape, which runc resolves on the host: config.json a regular
// file and root.path a real directory inside `bundle_dir`, no symlink on the way (else runc
// would restore the container on whatever host directory a link names, "/" included).
// kPermissionDenied otherwise.
Status CheckReceivedBundle(const std::string& bundle_dir, const OciConfig& config);

}  // namespace migrate::runtime
