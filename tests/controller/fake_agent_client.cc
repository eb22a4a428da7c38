#include "tests/controller/fake_agent_client.h"

#include "migrate/version.h"

namespace migrate::controller::testing {
namespace {

proto::PreflightCheck Check(const std::string& name, const std::string& detail) {
  proto::PreflightCheck check;
  check.set_name(name);
  check.set_ok(true);
  check.set_detail(detail);
  return check;
}

void FillCapabilities(proto::Capabilities* caps, const std::string& node) {
  caps->set_node_name(node);
  caps->set_agent_version(kVersion);
  caps->set_runtime_name("runc");
  caps->set_runtime_version("1.1.5");
  caps->set_criu_version("4.1.1");
  caps->set_criu_check_ok(true);
  caps->set_cgroup_layout(proto::CGROUP_LAYOUT_HYBRID);
  for (proto::CgroupMode mode : {proto::CGROUP_MODE_IGNORE, proto::CGROUP_MODE_SOFT,
                                 proto::CGROUP_MODE_FULL, proto::CGROUP_MODE_STRICT}) {
    proto::CgroupModeSupport* support = caps->add_cgroup_modes();
    support->set_mode(mode);
    support->set_checkpoint(mode != proto::CGROUP_MODE_STRICT);
    support->set_restore(mode != proto::CGROUP_MODE_STRICT);
    if (mode == proto::CGROUP_MODE_STRICT) {
      support->set_reason("runc creates the container's cgroup before CRIU restores");
    }
  }
}

}  // namespace

std::unique_ptr<FakePair> MakeHealthyPair(proto::CgroupMode mode) {
  auto pair = std::make_unique<FakePair>();
  pair->source = std::make_unique<FakeAgentClient>("host-a", &pair->log);
  pair->destination = std::make_unique<FakeAgentClient>("host-b", &pair->log);
  FakeAgentClient& a = *pair->source;
  FakeAgentClient& b = *pair->destination;

  a.health.set_node_name("host-a");
  a.health.set_agent_version(kVersion);
  b.health.set_node_name("host-b");
  b.health.set_agent_version(kVersion);
  FillCapabilities(&a.capabilities, "host-a");
  FillCapabilities(&b.capabilities, "host-b");

  a.preflight.add_checks()->CopyFrom(Check("container-running", "web runs, pid 100"));
  a.preflight.add_checks()->CopyFrom(Check("criu-check", "Looks good."));
  a.preflight.add_checks()->CopyFrom(Check("cgroup-mode-dump", "soft via runtime flag"));
  *a.preflight.mutable_capabilities() = a.capabilities;
  a.preflight.mutable_container()->set_container_id("web");
  a.preflight.mutable_container()->set_exists(true);
  a.preflight.mutable_container()->set_status("running");
  a.preflight.mutable_container()->set_rootfs_bytes(100 << 20);
  a.preflight.mutable_container()->set_memory_bytes(200 << 20);
  a.preflight.set_cpuinfo("cpuinfo-image-of-host-a");

  b.preflight.add_checks()->CopyFrom(Check("container-absent", "no container web"));
  b.preflight.add_checks()->CopyFrom(Check("criu-check", "Looks good."));
  b.preflight.add_checks()->CopyFrom(Check("cpuinfo", "criu cpuinfo check passed"));
  b.preflight.add_checks()->CopyFrom(Check("free-space", "10 GiB free"));
  b.preflight.add_checks()->CopyFrom(Check("cgroup-mode-restore", "honoured"));
  *b.preflight.mutable_capabilities() = b.capabilities;

  b.prepare_receive.set_bundle_token("bundle-token");
  b.prepare_receive.set_images_token("images-token");
  b.prepare_receive.set_data_port(7001);

  a.checkpoint_send.mutable_bundle_stats()->set_files(20);
  a.checkpoint_send.mutable_bundle_stats()->set_raw_bytes(100 << 20);
  a.checkpoint_send.mutable_bundle_stats()->set_wire_bytes(40 << 20);

  proto::ModeEvidence* dump = a.checkpoint_send.mutable_dump_mode();
  dump->set_requested(mode);
  dump->set_effective(mode);
  dump->set_evidence("cg: adding cgroup /host-a/web");
  dump->set_mechanism("runtime flag");
  a.checkpoint_send.mutable_stats()->set_raw_bytes(200 << 20);
  a.checkpoint_send.mutable_stats()->set_wire_bytes(70 << 20);
  a.checkpoint_send.set_freeze_unix_ms(1700000000000);
  a.checkpoint_send.set_checkpoint_ms(300);
  a.checkpoint_send.set_transfer_tail_ms(50);
  // With FakeClock(10) the controller sees 30 ms between the checkpoint's and the restore's
  // answers: downtime = 770 + 30 - 50 = 750 ms, which the wall-clock fields agree with.
  a.checkpoint_send.set_frozen_for_ms(770);

  proto::ModeEvidence* restored = b.restore.mutable_restore_mode();
  restored->set_requested(mode);
  restored->set_effective(mode);
  restored->set_evidence("cg: Preparing cgroups yard (cgroups restore mode 0x4)");
  restored->set_mechanism("CRIU config file via org.criu.config");
  b.restore.set_init_pid(4242);
  b.restore.set_running_unix_ms(1700000000750);
  b.restore.set_restore_ms(400);
  b.restore.add_cgroups("4:memory:/host-b/web");
  b.restore.set_loopback_up(true);
  b.restore.set_running_for_ms(50);

  b.inspect.set_container_id("web");
  b.inspect.set_exists(true);
  b.inspect.set_status("running");
  a.inspect.set_container_id("web");
  a.inspect.set_exists(true);
  a.inspect.set_status("running");

  a.commit.set_phase(proto::PHASE_COMMITTED);
  b.commit.set_phase(proto::PHASE_COMMITTED);
  a.rollback.set_phase(proto::PHASE_ROLLED_BACK);
  b.rollback.set_phase(proto::PHASE_ROLLED_BACK);
  a.migration.set_phase(proto::PHASE_CHECKPOINTING);
  a.migration.set_bytes_raw(1 << 20);
  a.migration.set_bytes_wire(1 << 19);
  return pair;
}

}  // namespace migrate::controller::testing
