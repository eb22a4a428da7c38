#include "agent/source_pages.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/fence/cgroup_control.h"
#include "agent/fence/fence_command.h"
#include "agent/fence/fence_state.h"
#include "agent/fence/network_lock.h"
#include "agent/orphans.h"
#include "agent/runtime/cgroup_paths.h"
#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "transfer/stream/link_connect.h"
#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

using Steady = std::chrono::steady_clock;

// A port free on 127.0.0.1 now, for CRIU's page server (it listens on it until this agent's
// connection, checked in CRIU's log, is accepted).
Result<uint16_t> FreeLoopbackPort() {
  transfer::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::FromErrno("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::FromErrno("bind 127.0.0.1:0", errno);
  }
  return ntohs(addr.sin_port);
}

uint16_t LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

// CRIU logs the connection its page server accepted: it must be this agent's.
Status CheckAccepted(const std::string& log_path, uint16_t our_port) {
  const std::string want = "Accepted connection from 127.0.0.1:" + std::to_string(our_port) + "\n";
  // CRIU logs it at once; a short step keeps this out of the downtime.
  for (int i = 0; i < 1000; ++i) {
    Result<std::string> log = runtime::ReadFile(log_path);
    if (log.ok() && log->find("Accepted connection from") != std::string::npos) {
      if (log->find(want) != std::string::npos) return Status::Ok();
      return Status::PermissionDenied("CRIU's page server accepted another connection than this "
                                      "agent's (port " + std::to_string(our_port) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::DeadlineExceeded("CRIU's page server did not accept this agent's connection");
}

}  // namespace

Result<std::shared_ptr<SourcePages>> SourcePages::Start(
    AgentContext& ctx, const Migration& m, const proto::CheckpointSendRequest& request,
    const runtime::CheckpointOptions& options) {
  std::shared_ptr<SourcePages> pages(new SourcePages(ctx, m, request));
  // Found before the dump, so that the freeze after it costs no runtime call.
  MIGRATE_ASSIGN_OR_RETURN(runtime::ContainerState state, ctx.runtime().State(pages->container_));
  pages->init_pid_ = state.init_pid;
  MIGRATE_ASSIGN_OR_RETURN(pages->freezer_dir_, runtime::FreezerDirOf(pages->init_pid_));
  MIGRATE_ASSIGN_OR_RETURN(pages->port_, FreeLoopbackPort());
  MIGRATE_ASSIGN_OR_RETURN(pages->dump_, ctx.runtime().StartLazyCheckpoint(options, pages->port_));
  pages->early_freeze_ = StartEarlyFreeze(ctx.runtime(), options, pages->freezer_dir_);
  return pages;
}

SourcePages::~SourcePages() {
  if (link_) link_->Stop();
  if (link_thread_.joinable()) link_thread_.join();
  if (dump_thread_.joinable()) dump_thread_.join();
}

Result<runtime::CheckpointResult> SourcePages::WaitReady() {
  Result<runtime::CheckpointResult> dumped = dump_->WaitReady(std::chrono::minutes(10));
  if (early_freeze_) early_freeze_->Stop();
  // CRIU failed before serving: it left the tasks alive (frozen when the early freeze was
  // taken: the failed dump's handling thaws them).
  if (!dumped.ok()) return dumped;
  Status st = HoldTasks();
  if (st.ok()) st = ConnectToCriu();
  if (st.ok()) st = CheckAccepted(dumped->log_path, LocalPort(criu_socket_.get()));
  if (st.ok()) st = SpawnFence();
  if (st.ok()) st = ConnectLink();
  if (!st.ok()) {
    Status resumed = Resume("post-copy could not start: " + st.message());
    return st.WithContext(resumed.ok() ? "the container runs on the source again"
                                       : "resuming the source failed too: " + resumed.message());
  }
  dump_thread_ = std::thread([this] {
    Status end = dump_->Finish();
    MIGRATE_LOG(kInfo, id_) << "post-copy dump ended: " << (end.ok() ? "OK" : end.ToString());
  });
  return dumped;
}

// The freeze that outlives CRIU and this agent: the kernel keeps the tasks frozen until
// something thaws the cgroup.
Status SourcePages::HoldTasks() {
  return fence::FreezeCgroup(freezer_dir_).WithContext("freeze the source's tasks");
}

// Its last close is an RST, never a FIN: CRIU ends the tasks only on a FIN.
Status SourcePages::ConnectToCriu() {
  criu_socket_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (criu_socket_.get() < 0) return Status::FromErrno("socket", errno);
  linger reset_on_close{1, 0};
  if (::setsockopt(criu_socket_.get(), SOL_SOCKET, SO_LINGER, &reset_on_close,
                   sizeof(reset_on_close)) != 0) {
    return Status::FromErrno("SO_LINGER", errno);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (::connect(criu_socket_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno("connect to CRIU's page server on 127.0.0.1:" +
                             std::to_string(port_), errno);
  }
  return Status::Ok();
}

Status SourcePages::SpawnFence() {
  MIGRATE_ASSIGN_OR_RETURN(std::vector<int> users, runtime::ProcessesUsing(images_dir_));
  int criu_pid = 0;
  for (int pid : users) {
    Result<std::string> comm = runtime::ReadFile("/proc/" + std::to_string(pid) + "/comm");
    if (comm.ok() && comm->rfind("criu", 0) == 0) criu_pid = pid;
  }
  if (criu_pid == 0) return Status::FailedPrecondition("CRIU's dump process is not to be found");
  fence::FenceSpec spec;
  MIGRATE_ASSIGN_OR_RETURN(spec.binary, FenceBinary(ctx_));
  spec.role = fence::FenceRole::kSource;
  spec.args = {"--page-socket-fd", std::to_string(fence::kFirstHandedFd),
               "--freezer", freezer_dir_,
               "--netns", "/proc/" + std::to_string(init_pid_) + "/ns/net",
               "--criu-pid", std::to_string(criu_pid),
               "--state", FenceStatePath(ctx_, id_),
               "--label", id_};
  spec.fds = {criu_socket_.get()};
  MIGRATE_ASSIGN_OR_RETURN(fence_, fence::FenceClient::Spawn(spec));
  return FenceRequest(fence::DeadlineCommand(fence::Verb::kHoldUntil, HoldUntil()), "OK");
}

Status SourcePages::ConnectLink() {
  const proto::StreamTarget& t = request_.target();
  transfer::LinkTarget target;
  target.host = t.address();
  target.port = static_cast<uint16_t>(t.data_port());
  target.server_name = t.node_name();
  target.tls = ctx_.deps().client_tls;
  target.token = request_.pages_token();
  target.label = id_ + "/pages";
  MIGRATE_ASSIGN_OR_RETURN(auto conn, transfer::ConnectLink(target, nullptr));
  transfer::PageLinkOptions options;
  options.label = id_ + "/pages";
  options.zstd_level = request_.compress_level() == 0 ? 1 : request_.compress_level();
  options.io_timeout = ctx_.deps().post_copy_lease;
  if (const uint64_t after = ctx_.deps().tamper_page_bytes; after > 0) {
    options.tamper_hook = [this, after, done = false](uint64_t, std::string& payload) mutable {
      if (done || link_->stats().to_peer_raw < after || payload.size() < 8) return;
      payload[payload.size() / 2] ^= 0x5a;
      done = true;
      MIGRATE_LOG(kWarn, id_) << "test hook: corrupted a page frame";
    };
  }
  link_ = std::make_unique<transfer::PageLink>(std::move(conn), criu_socket_.get(), options, *this);
  link_thread_ = std::thread([this] {
    Status ran = link_->Run();
    LogLine(ran.ok() ? LogLevel::kInfo : LogLevel::kWarn, id_, "page link ended: " + ran.ToString());
  });
  return Status::Ok();
}

Status SourcePages::FenceRequest(const std::string& line, const std::string& want) {
  if (!fence_) return Status::FailedPrecondition("no fence");
  return fence_->Ask(line, want, std::chrono::seconds(20)).status();
}

// The source's fence holds the tasks at least this long after a page-link round trip.
Steady::time_point SourcePages::HoldUntil() const {
  return Steady::now() + ctx_.deps().post_copy_lease + ctx_.deps().post_copy_margin;
}

bool SourcePages::OnPing(uint64_t) {
  if (ended_.load()) return false;
  return FenceRequest(fence::DeadlineCommand(fence::Verb::kHoldUntil, HoldUntil()), "OK").ok();
}

void SourcePages::OnPong(uint64_t, Steady::time_point) {}

void SourcePages::OnControl(const proto::stream::LinkControl& message) {
  if (message.has_done()) {
    // Every page arrived: from now on only the destination's commit or rollback decides.
    Status committed = FenceRequest("COMMIT", "COMMITTED");
    MIGRATE_LOG(kInfo, id_) << "the destination has every page (" << message.done().summary()
                            << "): " << (committed.ok() ? "fence committed" : committed.ToString());
    if (committed.ok()) {
      proto::stream::LinkControl ack;
      ack.mutable_committed();
      link_->Send(ack);
    }
  } else if (message.has_killed()) {
    Status resumed = Resume("the destination killed its copy after " +
                            std::to_string(message.killed().ran_ms()) +
                            " ms: " + message.killed().reason());
    if (!resumed.ok()) {
      MIGRATE_LOG(kError, id_) << resumed.ToString();
    }
  } else if (message.has_cut()) {
    MIGRATE_LOG(kWarn, id_) << "the destination cut the page link: " << message.cut().reason();
  }
}

void SourcePages::OnLocalClosed() {
  MIGRATE_LOG(kWarn, id_) << "CRIU's page server closed its connection";
  link_->CloseLocal();
  proto::stream::LinkControl cut;
  cut.mutable_cut()->set_reason("the source's page server ended");
  link_->Send(cut);
}

Status SourcePages::Release() {
  ended_.store(true);
  MIGRATE_RETURN_IF_ERROR(
      FenceEnd("RELEASE", "RELEASED", "released").WithContext("release the source"));
  if (link_) link_->CloseLocal();
  criu_socket_.reset();
  if (dump_thread_.joinable()) dump_thread_.join();
  SetOutcome("released: CRIU ended the source's tasks");
  if (link_) link_->Stop();
  return Status::Ok();
}

Status SourcePages::Resume(const std::string& reason) {
  ended_.store(true);
  MIGRATE_LOG(kWarn, id_) << "resuming the source: " << reason;
  if (link_) link_->CloseLocal();
  criu_socket_.reset();  // an RST once the fence's copy is closed too
  Status resumed = fence_ ? FenceEnd("RESUME " + reason, "RESUMED", "resumed")
                          : Status::FailedPrecondition("no fence");
  if (!resumed.ok()) {
    // No fence (yet, or any more): this agent does the fence's steps itself.
    MIGRATE_LOG(kWarn, id_) << "the fence did not resume the source (" << resumed.message()
                            << "): resuming it here";
    resumed = KillOrphans(images_dir_, id_);
    if (resumed.ok() && init_pid_ > 0) {
      resumed = fence::RemoveCriuNetworkLock("/proc/" + std::to_string(init_pid_) + "/ns/net");
    }
    if (resumed.ok() && !freezer_dir_.empty()) resumed = fence::ThawCgroup(freezer_dir_);
  }
  SetOutcome(resumed.ok() ? "resumed: " + reason : "resume failed: " + resumed.message());
  if (link_) link_->Stop();
  return resumed;
}

// The fence's answer to `line`, or, when the fence has ended already (it acted on its own),
// what its state file says it did.
Status SourcePages::FenceEnd(const std::string& line, const std::string& answer,
                             const std::string& state) {
  Status asked = FenceRequest(line, answer);
  if (asked.ok() || asked.code() != StatusCode::kUnavailable) return asked;
  Result<fence::FenceState> ended = fence::ReadFenceState(FenceStatePath(ctx_, id_));
  if (ended.ok() && ended->state == state) return Status::Ok();
  return Status::FailedPrecondition("the fence ended " +
                                    (ended.ok() ? ended->state + " (" + ended->reason + ")"
                                                : ended.status().message()));
}

void SourcePages::SetOutcome(const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  outcome_ = outcome;
}

std::string SourcePages::outcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

}  // namespace migrate::agent
