// migrate-agent: the node daemon (`serve`) and local operator tools over the runtime layer
// (`probe`, `checkpoint`, `restore`). Parsing only: the work is in agent/runtime.
#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/criu.h"
#include "agent/runtime/node_probe.h"
#include "agent/runtime/posix_process_runner.h"
#include "agent/runtime/result_proto.h"
#include "agent/runtime/runc_runtime.h"
#include "agent/serve_command.h"
#include "migrate/version.h"
#include "proto/agent_api.pb.h"
#include "proto/cgroup_mode_names.h"

namespace {

using migrate::Result;
using migrate::Status;
namespace rt = migrate::runtime;

// Options every local tool shares: which runc, which --root, where per-container CRIU
// config files live.
struct RuntimeFlags {
  std::string runc = "runc";
  std::string root = "/run/runc";
  std::string criu_config_dir = "/run/migrate/criu";
  bool json = false;
};

void AddRuntimeFlags(CLI::App* cmd, RuntimeFlags* flags) {
  cmd->add_option("--runc", flags->runc, "the runtime executable (runc or crun)")->capture_default_str();
  cmd->add_option("--runc-root", flags->root,
                  "runc --root of this node (containers' state directory)")
      ->capture_default_str();
  cmd->add_option("--criu-config-dir", flags->criu_config_dir,
                  "where per-container CRIU config files (<dir>/<id>.conf) are written; a "
                  "restored container's org.criu.config annotation points there")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "print the result as JSON (protobuf JSON mapping)");
}

void AddCriuFlags(CLI::App* cmd, rt::CriuOptions* criu) {
  cmd->add_flag("--tcp-established", criu->tcp_established,
                "carry established TCP connections (CRIU --tcp-established)");
  cmd->add_flag("--file-locks", criu->file_locks,
                "carry the file locks the container's tasks hold (CRIU --file-locks)");
  cmd->add_flag("--ext-unix-sk", criu->ext_unix_sk,
                "allow unix sockets connected to peers outside the container (CRIU "
                "--ext-unix-sk)");
}

int Fail(const Status& status) {
  std::cerr << "migrate-agent: " << status.ToString() << "\n";
  return 1;
}

Result<std::unique_ptr<rt::RuncRuntime>> MakeRuntime(rt::ProcessRunner* runner,
                                                     const RuntimeFlags& flags) {
  rt::RuncOptions options;
  options.runc_path = flags.runc;
  options.root = flags.root;
  options.criu_config_dir = flags.criu_config_dir;
  return rt::RuncRuntime::Create(runner, options);
}

void PrintJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    std::cerr << "migrate-agent: cannot print JSON\n";
    return;
  }
  std::cout << out;
}

void PrintProof(const char* side, const rt::ModeProof& proof) {
  std::cout << side << " cgroup mode: requested " << rt::CgroupModeName(proof.requested)
            << ", effective " << rt::CgroupModeName(proof.effective) << "\n"
            << "  mechanism: " << proof.mechanism << "\n"
            << "  evidence:  " << proof.evidence << "\n";
  if (!proof.note.empty()) std::cout << "  note:      " << proof.note << "\n";
}

// The cgroup-mode option with its choices and their meaning.
CLI::Option* AddModeOption(CLI::App* cmd, std::string* mode, const char* what) {
  return cmd
      ->add_option("--cgroups-mode", *mode,
                   std::string("CRIU cgroup mode for the ") + what +
                       ": ignore (leave cgroups to the runtime; use with --cgroup-path to move "
                       "a container), soft (CRIU's default), full, strict (never possible on "
                       "restore under runc), none, props")
      ->check(CLI::IsMember(migrate::proto::CgroupModeNames()))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "migrate-agent: the node agent of migrate (live migration of runc containers with "
      "CRIU).\n"
      "`serve` runs the daemon; `probe`, `checkpoint` and `restore` are local tools over the "
      "same runtime layer, which proves from CRIU's logs the cgroup mode CRIU really ran.",
      "migrate-agent"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("migrate-agent ") + migrate::kVersion);
  int exit_code = 0;
  rt::PosixProcessRunner runner;

  // --- probe -------------------------------------------------------------------------
  RuntimeFlags probe_flags;
  std::string node_name;
  CLI::App* probe = app.add_subcommand(
      "probe",
      "Show what this node can do: runtime, CRIU (`criu check`), kernel, cgroup "
      "layout, and per cgroup mode whether checkpoint/restore can honour it and how");
  AddRuntimeFlags(probe, &probe_flags);
  probe->add_option("--node-name", node_name, "name to report for this node");
  probe->callback([&] {
    auto runtime = MakeRuntime(&runner, probe_flags);
    if (!runtime.ok()) {
      exit_code = Fail(runtime.status());
      return;
    }
    rt::Criu criu(&runner);
    rt::NodeProbeOptions options;
    options.node_name = node_name;
    options.agent_version = migrate::kVersion;
    Result<migrate::proto::Capabilities> caps = rt::ProbeNode(**runtime, criu, options);
    if (!caps.ok()) {
      exit_code = Fail(caps.status());
      return;
    }
    if (probe_flags.json) {
      PrintJson(*caps);
    } else {
      std::cout << rt::FormatCapabilities(*caps);
    }
    exit_code = caps->criu_check_ok() ? 0 : 1;
  });

  // --- checkpoint --------------------------------------------------------------------
  RuntimeFlags ckpt_flags;
  rt::CheckpointOptions ckpt;
  std::string ckpt_mode = "soft";
  CLI::App* checkpoint = app.add_subcommand(
      "checkpoint",
      "Checkpoint a running container into an image directory (runc checkpoint + CRIU).\n"
      "The container stops unless --leave-running. dump.log stays in the work directory, and "
      "the result says which cgroup mode CRIU really ran at dump time (from dump.log and "
      "cgroup.img). Under runc < 1.3 ignore reaches the dump only for containers created with "
      "an org.criu.config annotation naming <criu-config-dir>/<id>.conf (every container "
      "restored by migrate-agent has one); otherwise the dump runs soft and the result says "
      "so. The restore mode is what counts: soft images restore fine in ignore.\n"
      "Example: migrate-agent checkpoint web-1 --image-dir /var/lib/m/img --work-dir "
      "/var/lib/m/work --cgroups-mode ignore");
  AddRuntimeFlags(checkpoint, &ckpt_flags);
  checkpoint->add_option("container", ckpt.container_id, "container id")->required();
  checkpoint->add_option("--image-dir", ckpt.image_dir, "where CRIU writes the images")->required();
  checkpoint->add_option("--work-dir", ckpt.work_dir, "where dump.log is kept")->required();
  AddModeOption(checkpoint, &ckpt_mode, "dump");
  AddCriuFlags(checkpoint, &ckpt.criu);
  checkpoint->add_flag("--leave-running", ckpt.leave_running,
                       "keep the container running after the dump");
  checkpoint->callback([&] {
    ckpt.cgroup_mode = *rt::ParseCgroupMode(ckpt_mode);
    auto runtime = MakeRuntime(&runner, ckpt_flags);
    if (!runtime.ok()) {
      exit_code = Fail(runtime.status());
      return;
    }
    Result<rt::CheckpointResult> result = (*runtime)->Checkpoint(ckpt);
    if (!result.ok()) {
      exit_code = Fail(result.status());
      return;
    }
    if (ckpt_flags.json) {
      PrintJson(rt::CheckpointResultToProto(*result));
    } else {
      std::cout << "checkpointed " << ckpt.container_id << " into " << result->image_dir << " in "
                << result->checkpoint_duration.count() << " ms (log " << result->log_path << ")\n";
      PrintProof("dump", result->dump_mode);
    }
  });

  // --- restore -----------------------------------------------------------------------
  RuntimeFlags restore_flags;
  rt::RestoreOptions rest;
  std::string rest_mode = "soft";
  std::string cgroup_path;
  bool no_loopback = false;
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Restore a container, detached, from an image directory into a bundle (config.json + "
      "rootfs).\n"
      "The cgroup mode is passed by the mechanism that works for the installed runc (its "
      "flag on runc >= 1.3, else a CRIU config file named by the bundle's org.criu.config "
      "annotation, written as manage-cgroups=<mode>); strict is refused before anything is "
      "touched, because runc creates the container's cgroup first. After the restore the "
      "mode CRIU really ran is read from restore.log; a different mode is an error and the "
      "restored container is removed. The container's loopback (down after a runc restore) "
      "is brought back up.\n"
      "config.json is edited in place: linux.cgroupsPath (with --cgroup-path) and the "
      "org.criu.config annotation.\n"
      "Example: migrate-agent restore web-1 --image-dir /var/lib/m/img --work-dir "
      "/var/lib/m/rwork --bundle /var/lib/m/bundle --cgroups-mode ignore --cgroup-path "
      "/host-b/web-1");
  AddRuntimeFlags(restore, &restore_flags);
  restore->add_option("container", rest.container_id, "container id to create")->required();
  restore->add_option("--image-dir", rest.image_dir, "checkpoint images")->required();
  restore->add_option("--work-dir", rest.work_dir, "where restore.log is kept")->required();
  restore->add_option("--bundle", rest.bundle_dir, "bundle directory (config.json + rootfs)")
      ->required();
  AddModeOption(restore, &rest_mode, "restore");
  restore->add_option("--cgroup-path", cgroup_path,
                      "new linux.cgroupsPath (e.g. /host-b/web-1); with ignore, the restored "
                      "processes land exactly there");
  AddCriuFlags(restore, &rest.criu);
  restore->add_flag("--no-loopback", no_loopback, "leave the container's loopback as restored");
  restore->callback([&] {
    rest.cgroup_mode = *rt::ParseCgroupMode(rest_mode);
    if (!cgroup_path.empty()) rest.cgroups_path = cgroup_path;
    rest.bring_up_loopback = !no_loopback;
    auto runtime = MakeRuntime(&runner, restore_flags);
    if (!runtime.ok()) {
      exit_code = Fail(runtime.status());
      return;
    }
    Result<rt::RestoreResult> result = (*runtime)->Restore(rest);
    if (!result.ok()) {
      exit_code = Fail(result.status());
      return;
    }
    if (restore_flags.json) {
      PrintJson(rt::RestoreResultToProto(*result));
    } else {
      std::cout << "restored " << rest.container_id << " (init pid " << result->init_pid << ") in "
                << result->restore_duration.count() << " ms (log " << result->log_path << ")\n";
      PrintProof("restore", result->restore_mode);
      std::cout << "cgroups of pid " << result->init_pid << ":\n";
      for (const std::string& line : result->cgroups) std::cout << "  " << line << "\n";
      if (result->loopback.checked) {
        std::cout << "loopback: " << (result->loopback.up ? "UP" : "DOWN") << ", 127.0.0.1 "
                  << (result->loopback.has_ipv4 ? "present" : "missing") << "\n";
      }
    }
  });

  // --- serve: the daemon (agent/serve_command.cc) --------------------------------------
  migrate::agent::RegisterServeCommand(app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
