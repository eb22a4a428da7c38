#include "agent/post_copy_checks.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "agent/fence/fence_client.h"
#include "agent/runtime/cgroup_paths.h"
#include "agent/runtime/file_util.h"

namespace migrate::agent {
namespace {

// CRIU's page sender asks for pipes of 4 MiB and fails when fs.pipe-max-size forbids them
// (root here lacks CAP_SYS_RESOURCE to exceed it).
constexpr uint64_t kCriuPagePipeBytes = 4u << 20;

proto::PreflightCheck Check(std::string name, bool ok, std::string detail, std::string remedy) {
  proto::PreflightCheck c;
  c.set_name(std::move(name));
  c.set_ok(ok);
  c.set_detail(std::move(detail));
  if (!ok) c.set_remedy(std::move(remedy));
  return c;
}

proto::PreflightCheck Userfaultfd() {
  const long fd = ::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  const int err = errno;
  if (fd >= 0) ::close(static_cast<int>(fd));
  return Check("userfaultfd", fd >= 0,
               fd >= 0 ? "userfaultfd(2) works" : std::string("userfaultfd(2): ") + strerror(err),
               "a kernel with CONFIG_USERFAULTFD, and userfaultfd allowed for root");
}

proto::PreflightCheck PipeSize() {
  Result<std::string> text = runtime::ReadFile("/proc/sys/fs/pipe-max-size");
  const uint64_t max = text.ok() ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  return Check("pipe-max-size", max >= kCriuPagePipeBytes,
               "fs.pipe-max-size is " + std::to_string(max) + " bytes; CRIU's page sender needs " +
                   std::to_string(kCriuPagePipeBytes),
               "sysctl -w fs.pipe-max-size=4194304 on the source");
}

proto::PreflightCheck Fence(const AgentContext& ctx) {
  Result<std::string> path = FenceBinary(ctx);
  return Check("fence", path.ok(), path.ok() ? "fence: " + *path : path.status().message(),
               "install migrate-fence next to migrate-agent (the agent package ships it)");
}

}  // namespace

std::vector<proto::PreflightCheck> PostCopyChecks(AgentContext& ctx,
                                                  const proto::PreflightRequest& request,
                                                  const proto::Capabilities& caps, int init_pid) {
  std::vector<proto::PreflightCheck> checks;
  const bool runc = caps.runtime_name() == "runc";
  checks.push_back(Check("post-copy-runtime", runc,
                         caps.runtime_name() + " " + caps.runtime_version() +
                             (runc ? ": checkpoint --lazy-pages, restore --lazy-pages"
                                   : ": its checkpoint has no lazy pages"),
                         "use --strategy stop-and-copy, or runc on both hosts"));
  checks.push_back(Check("post-copy-tcp", !request.tcp_established(),
                         request.tcp_established()
                             ? "--tcp-established: a rollback would resume the source's "
                               "connections after the destination's copy used them"
                             : "no established connections carried",
                         "use --strategy stop-and-copy to carry established connections"));
  checks.push_back(Userfaultfd());
  checks.push_back(Fence(ctx));
  if (request.role() == proto::ROLE_SOURCE) {
    checks.push_back(PipeSize());
    Result<std::string> freezer = init_pid > 0 ? runtime::FreezerDirOf(init_pid)
                                               : Result<std::string>(Status::NotFound("no task"));
    checks.push_back(Check("freezer", freezer.ok(),
                           freezer.ok() ? "the source holds the tasks frozen with " + *freezer
                                        : freezer.status().message(),
                           "a freezer cgroup (v1 freezer or cgroup v2) for the container"));
  }
  return checks;
}

}  // namespace migrate::agent
