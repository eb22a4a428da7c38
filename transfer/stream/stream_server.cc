// StreamServer: an acceptor thread, a thread per connection (TLS, HELLO, then the
// StreamReceiver with its chunk writers) and the table of expected streams.
#include "transfer/stream/stream_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "proto/stream.pb.h"
#include "transfer/base/log.h"
#include "transfer/stream/fd_reserve.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/hello.h"
#include "transfer/stream/staging_tree.h"
#include "transfer/stream/stream_receiver.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

constexpr size_t kMinTokenBytes = 16;
constexpr auto kCloseTimeout = std::chrono::milliseconds(1000);

// One expected token: a data stream or a page link.
struct Slot {
  std::variant<ExpectedStream, ExpectedLink> expected;
  enum class State { kPending, kRunning, kDone } state = State::kPending;
  std::optional<Result<TransferStats>> outcome;
  CancelFlag cancel;
  std::mutex commit_mu;  // the commit and Cancel() exclude each other
  TransferProgress progress;

  ExpectedStream& stream() { return std::get<ExpectedStream>(expected); }
  const std::string& peer_node() const {
    return std::visit([](const auto& e) -> const std::string& { return e.expected_peer_node_name; },
                      expected);
  }
  const std::string& label() const {
    return std::visit([](const auto& e) -> const std::string& { return e.label; }, expected);
  }
};

// Sets the slot's cancel flag between commits: once it returns, the stream either was
// committed already or never will be.
void CancelSlot(Slot& slot) {
  std::lock_guard<std::mutex> lock(slot.commit_mu);
  slot.cancel.Cancel();
}

bool SameDevice(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

ps::VerdictCode VerdictCodeFor(const Status& st) {
  if (st.ok()) return ps::VERDICT_CODE_COMMITTED;
  if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kPermissionDenied) {
    return ps::VERDICT_CODE_REFUSED;
  }
  return ps::VERDICT_CODE_FAILED;
}

}  // namespace

// One accepted connection. It is in its handshake (TLS, then HELLO) until it claims a
// stream; handshakes and streams are counted apart, so that connections that never finish
// their handshake cannot keep a stream out.
struct ConnState {
  Clock::time_point accepted = Clock::now();
  CancelFlag abort;  // server stop, or evicted to make room for a newer handshake
  std::atomic<bool> done{false};
  bool streaming = false;  // guarded by Impl::mu
};

struct StreamServer::Impl {
  StreamServerOptions options;
  int listen_fd = -1;
  int wake_fd = -1;
  uint16_t port = 0;
  std::thread acceptor;
  CancelFlag stop_flag;
  FdReserve reserve{"stream server"};

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Slot>> slots;  // by token
  struct Conn {
    std::thread thread;
    std::shared_ptr<ConnState> state;
  };
  std::list<Conn> conns;
  bool stopping = false;

  ~Impl() {
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  void AcceptLoop();
  // Waits for a connection or a wake-up; -1 when there is nothing to accept.
  int AcceptOne(std::string* peer);
  void ReapFinished();
  void Admit(int fd, std::string peer);
  int CountLocked(bool streaming) const;
  void HandleConnection(int fd, const std::string& peer, ConnState& state);
  // TLS handshake and HELLO, all within handshake_timeout.
  Result<std::unique_ptr<TlsConnection>> Handshake(int fd, const std::string& peer,
                                                   ConnState& state, ps::Hello* hello,
                                                   uint64_t* hello_bytes);
  // The slot the HELLO's token names, if this peer may fill it and a stream is free.
  Result<std::shared_ptr<Slot>> Claim(const ps::Hello& hello, const tls::PeerIdentity& id,
                                      ConnState& state);
  void Receive(TlsConnection& conn, Slot& slot, const std::string& peer, uint64_t hello_bytes,
               Clock::time_point start);
  // ACCEPT, then the connection goes to the link's on_connect.
  void HandOver(std::unique_ptr<TlsConnection> conn, Slot& slot, const std::string& peer);
  // Adds a checked token's slot.
  Status Register(const std::string& token, std::variant<ExpectedStream, ExpectedLink> expected);
  Status CommitUnlessCancelled(Slot& slot, StagingTree& tree);
  void Refuse(TlsConnection& conn, const Status& st, const std::string& peer);
  // Tells the observer of a connection closed before any stream (StreamObserver).
  void Refused(std::string_view reason) {
    if (options.observer != nullptr) options.observer->ConnectionRefused(reason);
  }
  void Finish(Slot& slot, Result<TransferStats> outcome);
};

void StreamServer::Impl::ReapFinished() {
  std::list<Conn> finished;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->state->done.load()) {
        finished.splice(finished.end(), conns, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c.thread.join();
}

int StreamServer::Impl::CountLocked(bool streaming) const {
  return static_cast<int>(std::count_if(conns.begin(), conns.end(), [&](const Conn& c) {
    return !c.state->done.load() && !c.state->abort.cancelled() && c.state->streaming == streaming;
  }));
}

void StreamServer::Impl::AcceptLoop() {
  while (!stop_flag.cancelled()) {
    std::string peer;
    int fd = AcceptOne(&peer);
    ReapFinished();
    if (fd >= 0) Admit(fd, std::move(peer));
  }
}

int StreamServer::Impl::AcceptOne(std::string* peer) {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int r = poll(fds, 2, 1000);
  if (r > 0 && (fds[1].revents & POLLIN)) {
    uint64_t count;
    (void)!read(wake_fd, &count, sizeof(count));  // reset the eventfd (else: a busy loop)
  }
  if (stop_flag.cancelled() || r <= 0 || !(fds[0].revents & POLLIN)) return -1;
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, kAcceptFlags);
  if (fd < 0) {
    if (FdReserve::IsExhaustion(errno) && !reserve.ShedOne(listen_fd)) {
      pollfd wake{wake_fd, POLLIN, 0};
      poll(&wake, 1, 100);  // not even the reserve: back off instead of spinning
    }
    return -1;
  }
  char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
  getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
              NI_NUMERICHOST | NI_NUMERICSERV);
  *peer = std::string(host) + ":" + serv;
  return fd;
}

void StreamServer::Impl::Admit(int fd, std::string peer) {
  std::lock_guard<std::mutex> lock(mu);
  if (stopping) {
    close(fd);
    return;
  }
  if (CountLocked(/*streaming=*/false) >= options.max_handshakes) {
    // Full of handshakes: the oldest makes room (a burst of stalled connections can delay a
    // real sender by one handshake at most, never lock it out).
    auto oldest = std::min_element(conns.begin(), conns.end(), [](const Conn& a, const Conn& b) {
      auto rank = [](const Conn& c) {
        bool candidate = !c.state->streaming && !c.state->done && !c.state->abort.cancelled();
        return std::make_pair(!candidate, c.state->accepted);
      };
      return rank(a) < rank(b);
    });
    MIGRATE_LOG(kWarn, "") << "stream server: " << options.max_handshakes
                           << " handshakes at once: dropping the oldest for " << peer;
    oldest->state->abort.Cancel();
  }
  auto state = std::make_shared<ConnState>();
  conns.push_back(Conn{std::thread([this, fd, peer, state] {
                         HandleConnection(fd, peer, *state);
                         state->done.store(true);
                         uint64_t one = 1;
                         (void)!write(wake_fd, &one, sizeof(one));
                       }),
                       state});
}

void StreamServer::Impl::Refuse(TlsConnection& conn, const Status& st, const std::string& peer) {
  MIGRATE_LOG(kWarn, "") << "stream server: refused " << peer << ": " << st.ToString();
  ps::Verdict v;
  v.set_code(VerdictCodeFor(st));
  v.set_status_code(std::string(StatusCodeName(st.code())));
  v.set_message(st.message());
  conn.set_io_timeout(kCloseTimeout);
  std::string frame = MessageFrame(ps::FRAME_TYPE_VERDICT, v);
  if (conn.WriteAll(frame.data(), frame.size()).ok()) (void)conn.Shutdown(kCloseTimeout);
}

void StreamServer::Impl::Finish(Slot& slot, Result<TransferStats> outcome) {
  std::lock_guard<std::mutex> lock(mu);
  slot.outcome = std::move(outcome);
  slot.state = Slot::State::kDone;
  cv.notify_all();
}

Result<std::unique_ptr<TlsConnection>> StreamServer::Impl::Handshake(int fd,
                                                                     const std::string& peer,
                                                                     ConnState& state,
                                                                     ps::Hello* hello,
                                                                     uint64_t* hello_bytes) {
  const Clock::time_point deadline = state.accepted + options.handshake_timeout;
  MIGRATE_ASSIGN_OR_RETURN(auto conn, TlsConnection::Accept(fd, options.tls, deadline, &state.abort));
  // The HELLO as a whole must arrive by the same deadline: a peer that trickles it is cut.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  conn->set_io_timeout(std::max(left, std::chrono::milliseconds(1)));
  FrameReader hello_reader(conn.get(), 64 * 1024);
  std::string payload;
  auto h = hello_reader.Next(&payload);
  if (!h.ok()) return h.status().WithContext("no HELLO");
  *hello_bytes = hello_reader.bytes();
  if (h->type != ps::FRAME_TYPE_HELLO || !hello->ParseFromString(payload)) {
    Refuse(*conn, Status::InvalidArgument("expected a HELLO frame first"), peer);
    return Status::InvalidArgument("expected a HELLO frame first");
  }
  return conn;
}

Result<std::shared_ptr<Slot>> StreamServer::Impl::Claim(const ps::Hello& hello,
                                                        const tls::PeerIdentity& id,
                                                        ConnState& state) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = slots.find(hello.token());
  if (it == slots.end()) return Status::PermissionDenied("unknown stream token");
  if (it->second->state != Slot::State::kPending) {
    return Status::PermissionDenied("stream token already used");
  }
  const std::string& want = it->second->peer_node();
  bool name_ok = std::any_of(id.dns_names.begin(), id.dns_names.end(),
                             [&](const std::string& n) { return EqualsIgnoreCase(n, want); });
  if (id.role != tls::Role::kNode || !name_ok) {
    return Status::PermissionDenied("peer certificate (" + id.common_name + ", role " +
                                    std::string(tls::RoleName(id.role)) + ") is not node " + want +
                                    " that this token expects");
  }
  if (CountLocked(/*streaming=*/true) >= options.max_connections) {
    // Not consumed: the sender may retry once a stream has finished.
    return Status::Unavailable(std::to_string(options.max_connections) +
                               " streams are being received already");
  }
  state.streaming = true;
  it->second->state = Slot::State::kRunning;
  return it->second;
}

void StreamServer::Impl::HandleConnection(int fd, const std::string& peer, ConnState& state) {
  ps::Hello hello;
  uint64_t hello_bytes = 0;
  auto conn = Handshake(fd, peer, state, &hello, &hello_bytes);
  if (!conn.ok()) {
    MIGRATE_LOG(kWarn, "") << "stream server: " << peer << ": " << conn.status().ToString();
    return Refused("handshake");
  }
  if (hello.protocol_version() != kProtocolVersion) {
    Refused("protocol");
    return Refuse(
        **conn,
        Status::InvalidArgument("protocol version " + std::to_string(hello.protocol_version()) +
                                " not supported (this receiver speaks " +
                                std::to_string(kProtocolVersion) + ")"),
        peer);
  }
  auto id = tls::IdentifyPeer((*conn)->ssl());
  if (!id.ok()) {
    Refused("peer");
    return Refuse(**conn, id.status(), peer);
  }
  auto slot = Claim(hello, *id, state);
  if (!slot.ok()) {
    Refused(slot.status().code() == StatusCode::kUnavailable ? "limit" : "peer");
    return Refuse(**conn, slot.status(), peer);
  }
  if (std::holds_alternative<ExpectedLink>((*slot)->expected)) {
    MIGRATE_LOG(kInfo, (*slot)->label())
        << "page link from " << peer << " (" << id->common_name << ")";
    return HandOver(std::move(*conn), **slot, peer);
  }
  MIGRATE_LOG(kInfo, (*slot)->label()) << "stream from " << peer << " (" << id->common_name
                                       << ") into " << (*slot)->stream().final_dir;
  Receive(**conn, **slot, peer, hello_bytes, state.accepted);
}

Status StreamServer::Impl::CommitUnlessCancelled(Slot& slot, StagingTree& tree) {
  // The commit and Cancel() exclude each other through the slot's own lock: a cancelled
  // stream never appears, and the server's lock is not held across the rename and fsync.
  std::lock_guard<std::mutex> lock(slot.commit_mu);
  if (slot.cancel.cancelled()) return Status::Aborted("cancelled");
  return tree.Commit(slot.stream().final_dir);
}

void StreamServer::Impl::Receive(TlsConnection& conn, Slot& slot, const std::string& peer,
                                 uint64_t hello_bytes, Clock::time_point start) {
  const ExpectedStream& expected = slot.stream();
  if (options.observer != nullptr) options.observer->StreamStarted(StreamDirection::kReceive);
  conn.set_cancel(&slot.cancel);
  conn.set_io_timeout(expected.limits.io_timeout);
  std::string accept = AcceptFrame();
  Status st = conn.WriteAll(accept.data(), accept.size());
  FrameReader reader(&conn, expected.limits.max_frame_bytes);
  std::unique_ptr<StagingTree> tree;
  auto tag_key = ExportChunkTagKey(conn);
  if (st.ok()) st = tag_key.status();
  StreamReceiver receiver(expected, tag_key.ok() ? *tag_key : TagKey{}, reader, slot.progress,
                          options.decompress_threads);
  if (st.ok()) st = receiver.Receive(&tree);
  if (st.ok()) st = CommitUnlessCancelled(slot, *tree);
  if (!st.ok() && slot.cancel.cancelled() && st.code() != StatusCode::kAborted) {
    st = Status::Aborted("cancelled (" + st.message() + ")");
  }
  TransferStats stats;
  stats.files = receiver.files();
  stats.raw_bytes = receiver.data_bytes();
  stats.wire_bytes = hello_bytes + reader.bytes();
  stats.duration = Clock::now() - start;
  if (options.observer != nullptr) options.observer->StreamEnded(StreamDirection::kReceive, stats);
  if (!st.ok()) {
    tree.reset();  // removes the staging tree (Receive already removed its own on failure)
    st = st.WithContext("receive stream into " + expected.final_dir);
    MIGRATE_LOG(kWarn, expected.label) << st.ToString();
    Finish(slot, st);
    Refuse(conn, st, peer);
    return;
  }
  ps::Verdict v;
  v.set_code(ps::VERDICT_CODE_COMMITTED);
  v.set_status_code(std::string(StatusCodeName(StatusCode::kOk)));
  v.set_files(stats.files);
  v.set_raw_bytes(stats.raw_bytes);
  v.set_wire_bytes(stats.wire_bytes);
  std::string frame = MessageFrame(ps::FRAME_TYPE_VERDICT, v);
  conn.set_io_timeout(kCloseTimeout * 5);
  if (conn.WriteAll(frame.data(), frame.size()).ok()) (void)conn.Shutdown(kCloseTimeout * 5);
  MIGRATE_LOG(kInfo, expected.label) << "stream committed to " << expected.final_dir << ": "
                                     << stats.files << " entries, " << stats.raw_bytes << " bytes";
  Finish(slot, stats);
}

void StreamServer::Impl::HandOver(std::unique_ptr<TlsConnection> conn, Slot& slot,
                                  const std::string& peer) {
  std::string accept = AcceptFrame();
  conn->set_io_timeout(options.handshake_timeout);
  Status st = conn->WriteAll(accept.data(), accept.size());
  if (!st.ok()) {
    st = st.WithContext("accept page link from " + peer);
    MIGRATE_LOG(kWarn, slot.label()) << st.ToString();
    return Finish(slot, st);
  }
  conn->set_cancel(nullptr);  // the link's owner decides when it ends
  std::get<ExpectedLink>(slot.expected).on_connect(std::move(conn));
  MIGRATE_LOG(kInfo, slot.label()) << "page link from " << peer << " ended";
  Finish(slot, TransferStats{});
}

StreamServer::StreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<StreamServer>> StreamServer::Start(const StreamServerOptions& options) {
  if (!options.tls) return Status::InvalidArgument("stream server needs a TLS server context");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(options.port);
  int gai = getaddrinfo(options.bind_address.c_str(), port_text.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::InvalidArgument("bind address " + options.bind_address + ": " +
                                   gai_strerror(gai));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return Status::FromErrno("socket", errno);
  }
  impl->listen_fd = fd;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int e = errno;
    freeaddrinfo(res);
    return Status::FromErrno("bind " + options.bind_address + ":" + port_text, e);
  }
  freeaddrinfo(res);
  if (listen(fd, 64) != 0) return Status::FromErrno("listen", errno);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl->port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return Status::FromErrno("eventfd", errno);
  Impl* raw = impl.get();
  impl->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<StreamServer>(new StreamServer(std::move(impl)));
}

StreamServer::~StreamServer() {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [token, slot] : impl_->slots) slots.push_back(slot);
    for (auto& c : impl_->conns) c.state->abort.Cancel();
  }
  for (auto& slot : slots) CancelSlot(*slot);
  impl_->stop_flag.Cancel();
  uint64_t one = 1;
  (void)!write(impl_->wake_fd, &one, sizeof(one));
  impl_->acceptor.join();
  std::list<Impl::Conn> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns) c.thread.join();
}

uint16_t StreamServer::port() const { return impl_->port; }

Status StreamServer::Expect(const std::string& token, ExpectedStream expected) {
  if (token.size() < kMinTokenBytes) {
    return Status::InvalidArgument("stream token must have at least 16 bytes");
  }
  if (expected.final_dir.empty() || expected.staging_dir.empty()) {
    return Status::InvalidArgument("stream needs a final and a staging directory");
  }
  if (expected.expected_peer_node_name.empty()) {
    return Status::InvalidArgument("stream needs the expected sender's node name");
  }
  struct stat st;
  if (lstat(expected.final_dir.c_str(), &st) == 0) {
    return Status::InvalidArgument(expected.final_dir + " already exists");
  }
  std::string parent = ParentOf(expected.final_dir);
  if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("parent of " + expected.final_dir + " is not a directory");
  }
  if (stat(expected.staging_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("staging directory " + expected.staging_dir + " is missing");
  }
  if (!SameDevice(parent, expected.staging_dir)) {
    return Status::InvalidArgument("staging directory " + expected.staging_dir +
                                   " is not on the same file system as " + expected.final_dir);
  }
  return impl_->Register(token, std::move(expected));
}

Status StreamServer::ExpectLink(const std::string& token, ExpectedLink expected) {
  if (token.size() < kMinTokenBytes) {
    return Status::InvalidArgument("link token must have at least 16 bytes");
  }
  if (expected.expected_peer_node_name.empty()) {
    return Status::InvalidArgument("page link needs the expected peer's node name");
  }
  if (!expected.on_connect) return Status::InvalidArgument("page link needs on_connect");
  return impl_->Register(token, std::move(expected));
}

Status StreamServer::Impl::Register(const std::string& token,
                                    std::variant<ExpectedStream, ExpectedLink> expected) {
  std::lock_guard<std::mutex> lock(mu);
  if (stopping) return Status::FailedPrecondition("stream server is stopping");
  if (slots.count(token) != 0) return Status::AlreadyExists("stream token already registered");
  auto slot = std::make_shared<Slot>();
  slot->expected = std::move(expected);
  slots.emplace(token, std::move(slot));
  return Status::Ok();
}

Result<TransferStats> StreamServer::Wait(const std::string& token, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  for (;;) {
    auto it = impl_->slots.find(token);
    if (it == impl_->slots.end()) return Status::NotFound("unknown stream token");
    if (it->second->state == Slot::State::kDone) return *it->second->outcome;
    if (impl_->cv.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = impl_->slots.find(token);
      if (it != impl_->slots.end() && it->second->state == Slot::State::kDone) {
        return *it->second->outcome;
      }
      return Status::DeadlineExceeded("stream not finished yet");
    }
  }
}

void StreamServer::Cancel(const std::string& token) {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->slots.find(token);
    if (it == impl_->slots.end() || it->second->state == Slot::State::kDone) return;
    slot = it->second;
  }
  CancelSlot(*slot);  // waits for a commit in progress (not under the server's lock)
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (slot->state == Slot::State::kPending) {
    slot->state = Slot::State::kDone;
    slot->outcome = Result<TransferStats>(Status::Aborted("stream cancelled before it started"));
    impl_->cv.notify_all();
  }
}

void StreamServer::Forget(const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->slots.find(token);
  if (it != impl_->slots.end() && it->second->state == Slot::State::kDone) impl_->slots.erase(it);
}

Result<ProgressSnapshot> StreamServer::Progress(const std::string& token) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->slots.find(token);
  if (it == impl_->slots.end()) return Status::NotFound("unknown stream token");
  const TransferProgress& p = it->second->progress;
  return ProgressSnapshot{p.files.load(), p.raw_bytes.load(), p.wire_bytes.load()};
}

}  // namespace migrate::transfer
