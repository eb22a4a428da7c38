// File system and process figures the agent needs for preflight and inspection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::runtime {

// Bytes available at path (statvfs f_bavail * f_frsize).
Result<uint64_t> FreeBytes(const std::string& path);

// MemAvailable of <proc_root>/meminfo, in bytes.
Result<uint64_t> MemAvailableBytes(const std::string& proc_root = "/proc");

// Apparent size of a tree (regular files' sizes + symlink lengths), not following
// symlinks, not crossing into other file systems.
Result<uint64_t> TreeBytes(const std::string& path);

// What a walk of a tree finds (following no symlink, crossing no mount): its apparent bytes
// (as TreeBytes), and its device nodes (character and block): how many, and the first
// `max_listed` paths relative to the tree.
struct TreeScan {
  uint64_t bytes = 0;
  uint32_t device_node_count = 0;
  std::vector<std::string> device_nodes;
};
Result<TreeScan> ScanTree(const std::string& path, size_t max_listed = 5);

// VmRSS of one process, in bytes (0 for kernel threads / zombies).
Result<uint64_t> ProcessRssBytes(int pid, const std::string& proc_root = "/proc");
// Sum over pids (processes that vanished meanwhile count 0).
uint64_t ProcessesRssBytes(const std::vector<int>& pids, const std::string& proc_root = "/proc");

// The lines of /proc/<pid>/cgroup.
Result<std::vector<std::string>> ProcessCgroups(int pid, const std::string& proc_root = "/proc");

// Established TCP connections (state 01 in /proc/<pid>/net/tcp and tcp6) in the network
// namespace of `pid`. CRIU refuses to dump them without --tcp-established.
Result<int> EstablishedTcpConnections(int pid, const std::string& proc_root = "/proc");

// File locks (flock, POSIX, OFD) held through the open descriptors of `pids` ("lock:" lines
// of /proc/<pid>/fdinfo/*). CRIU refuses to dump them unless asked (--file-locks).
Result<int> FileLocksHeld(const std::vector<int>& pids, const std::string& proc_root = "/proc");

// Write leases (fcntl F_SETLEASE F_WRLCK) held through the open descriptors of `pids`, one
// "pid P: WRITE lease on PATH (fd N)" each, read from the "lock: ... LEASE ... WRITE" lines of
// /proc/<pid>/fdinfo/* and the fd's link. Any open of such a file by another task breaks the
// lease and signals its holder (a read lease breaks only on an open for writing).
std::vector<std::string> WriteLeasesHeld(const std::vector<int>& pids,
                                        const std::string& proc_root = "/proc");

// Tasks CRIU cannot dump, each a list of the task ids (threads included) of `pids`, read from
// /proc/<pid>/task/<tid>; tasks that vanish meanwhile are skipped (docs/zdtm.md has the cases).
//
// Stopped (state T, e.g. by SIGSTOP, or t, stopped while traced). CRIU freezes the container
// first (every runc hands it the cgroup freezer) and then cannot attach to a stopped task: its
// dump hangs.
Result<std::vector<int>> StoppedTasks(const std::vector<int>& pids,
                                      const std::string& proc_root = "/proc");
// Traced by another task (TracerPid not 0): CRIU must trace every task itself.
Result<std::vector<int>> TracedTasks(const std::vector<int>& pids,
                                     const std::string& proc_root = "/proc");
// Parents waiting for a vfork()ed child to exec or exit (state D inside the kernel's clone):
// CRIU cannot seize them ("Unseizable non-zombie").
Result<std::vector<int>> VforkParents(const std::vector<int>& pids,
                                      const std::string& proc_root = "/proc");
// With `signo` pending (SigPnd or ShdPnd). CRIU refuses a pending SIGTRAP: its parasite
// traps itself.
Result<std::vector<int>> TasksWithPendingSignal(const std::vector<int>& pids, int signo,
                                                const std::string& proc_root = "/proc");
// Whose real, effective or saved uid is not `uid`, or gid not `gid`. CRIU reads every task's
// rlimits with prlimit(), which the kernel allows on such a task only with CAP_SYS_RESOURCE.
Result<std::vector<int>> TasksWithOtherIds(const std::vector<int>& pids, unsigned uid, unsigned gid,
                                           const std::string& proc_root = "/proc");
// In a time namespace other than the one their children get (unshare(CLONE_NEWTIME) without a
// fork since): CRIU cannot dump it ("Can't make timens id").
Result<std::vector<int>> TasksWithChildTimeNamespace(const std::vector<int>& pids,
                                                     const std::string& proc_root = "/proc");

// Processes of `pids` holding an inotify or fanotify descriptor with events queued and not yet
// read (FIONREAD on a copy of the descriptor taken with pidfd_getfd). CRIU dumps the watches and
// marks but not the queue ("The ... inotify events will be dropped"): the restored application
// never gets those events. Processes or descriptors that vanish meanwhile are skipped.
Result<std::vector<int>> TasksWithQueuedNotifyEvents(const std::vector<int>& pids,
                                                     const std::string& proc_root = "/proc");

// True when this process has capability `cap` (e.g. CAP_SYS_RESOURCE) in its effective set.
Result<bool> HasEffectiveCapability(int cap, const std::string& proc_root = "/proc");

// Processes (other than this one) that use `path` or anything below it: an open file
// descriptor, their working directory or root, or an argument of their command line. A dump
// in progress holds its image directory so (CRIU by descriptors, `runc checkpoint
// --image-path` by its arguments until it has torn the container down). Processes that
// vanish during the scan are skipped.
Result<std::vector<int>> ProcessesUsing(const std::string& path,
                                        const std::string& proc_root = "/proc");

// rm -rf, refusing "/" and empty paths. OK when it does not exist.
Status RemoveTree(const std::string& path);

// True when process `pid` is in this process's namespace of kind `ns` ("net", "cgroup", ...).
Result<bool> SharesHostNamespace(int pid, std::string_view ns,
                                 const std::string& proc_root = "/proc");

}  // namespace migrate::runtime
