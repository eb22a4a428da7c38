#include "agent/runtime/result_proto.h"

#include "agent/runtime/criu_stats.h"
#include "transfer/base/unix_time.h"

namespace migrate::runtime {

proto::CheckpointSendResponse CheckpointResultToProto(const CheckpointResult& result) {
  proto::CheckpointSendResponse out;
  *out.mutable_dump_mode() = result.dump_mode.ToProto();
  out.set_freeze_unix_ms(UnixMillis(result.started));
  out.set_checkpoint_ms(static_cast<uint64_t>(result.checkpoint_duration.count()));
  for (const std::string& warning : result.criu_warnings) out.add_criu_warnings(warning);
  for (const std::string& option : result.criu_options) out.add_criu_options(option);
  auto stats = ReadCriuStats(result.work_dir, "stats-dump");
  if (stats.ok() && stats->has_dump()) *out.mutable_criu_stats() = stats->dump();
  return out;
}

proto::RestoreResponse RestoreResultToProto(const RestoreResult& result) {
  proto::RestoreResponse out;
  *out.mutable_restore_mode() = result.restore_mode.ToProto();
  out.set_init_pid(result.init_pid);
  out.set_running_unix_ms(UnixMillis(result.running_at));
  out.set_restore_ms(static_cast<uint64_t>(result.restore_duration.count()));
  for (const std::string& line : result.cgroups) out.add_cgroups(line);
  out.set_loopback_up(result.loopback.up && result.loopback.has_ipv4);
  for (const std::string& warning : result.criu_warnings) out.add_criu_warnings(warning);
  auto stats = ReadCriuStats(result.work_dir, "stats-restore");
  if (stats.ok() && stats->has_restore()) *out.mutable_criu_stats() = stats->restore();
  return out;
}

}  // namespace migrate::runtime
