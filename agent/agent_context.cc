#include "agent/agent_context.h"

#include "agent/fence/fence_client.h"

#include "agent/agent_metrics.h"

namespace migrate::agent {

Result<std::string> FenceBinary(const AgentContext& ctx) {
  if (!ctx.deps().fence_path.empty()) return ctx.deps().fence_path;
  return fence::FindFenceBinary();
}

std::string FenceStatePath(const AgentContext& ctx, const std::string& migration_id) {
  return ctx.MigrationDir(migration_id) + "/fence.json";
}

AgentContext::AgentContext(AgentDeps deps)
    : deps_(std::move(deps)),
      files_(deps_.files != nullptr ? deps_.files : &PosixStateFiles()),
      journal_(*files_, deps_.config.state_dir()),
      own_metrics_(deps_.metrics != nullptr ? nullptr : std::make_unique<AgentMetrics>()),
      metrics_(deps_.metrics != nullptr ? deps_.metrics : own_metrics_.get()),
      store_(journal_, metrics_) {}

AgentContext::~AgentContext() = default;

std::string AgentContext::MigrationDir(const std::string& migration_id) const {
  return journal_.MigrationDir(migration_id);
}

std::string AgentContext::ContainerHome(const std::string& container_id) const {
  return deps_.config.state_dir() + "/containers/" + container_id;
}

std::string AgentContext::BundleDir(const std::string& container_id,
                                    const std::string& migration_id) const {
  return ContainerHome(container_id) + "/" + migration_id;
}

std::string AgentContext::StagingDir() const { return deps_.config.state_dir() + "/staging"; }

}  // namespace migrate::agent
