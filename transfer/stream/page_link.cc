// PageLink: one poll loop. Each turn takes the other threads' requests, writes what the network
// takes, pings when due, then waits for the TLS socket, the local fd or a wake-up and serves what
// is ready. Frames are parsed from a buffer (never a blocking read of a frame): the loop reads the
// network only when something is there.
#include "transfer/stream/page_link.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "transfer/stream/frames.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

constexpr size_t kMaxLinkRaw = 4u << 20;  // one LINK_DATA frame's decoded bytes
constexpr size_t kDataHeaderBytes = 5;    // encoding + raw length
constexpr uint32_t kMaxLinkFrame = kMaxLinkRaw + kDataHeaderBytes;  // stored frames are larger
constexpr size_t kOutHighWater = 1u << 20;     // local reads pause while this waits to go out
constexpr size_t kLocalHighWater = 4u << 20;   // network reads pause while this waits locally
constexpr size_t kTlsReadBytes = 256 * 1024;   // one TryRead
constexpr size_t kTlsWriteBytes = 256 * 1024;  // one TryWrite
constexpr size_t kMaxPendingPings = 1024;      // unanswered pings remembered
constexpr auto kMaxPollWait = std::chrono::milliseconds(1000);
constexpr auto kCloseTimeout = std::chrono::milliseconds(500);

void PutU32Le(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32Le(const char* in) {
  auto b = reinterpret_cast<const unsigned char*>(in);
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
}

int MillisUntil(Clock::time_point when, Clock::time_point now) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
  return static_cast<int>(std::clamp(left, std::chrono::milliseconds(0), kMaxPollWait).count());
}

Status ValidateOptions(const PageLinkOptions& o) {
  if (o.max_data_frame < 1 || o.max_data_frame > kMaxLinkRaw) {
    return Status::InvalidArgument("max_data_frame must be 1 byte .. 4 MiB");
  }
  if (o.io_timeout.count() <= 0) return Status::InvalidArgument("io_timeout must be positive");
  if (o.ping_interval.count() < 0) return Status::InvalidArgument("negative ping_interval");
  return Status::Ok();
}

}  // namespace

char* PageLink::Backlog::Extend(size_t n) {
  const size_t at = buf_.size();
  buf_.resize(at + n);
  return buf_.data() + at;
}

void PageLink::Backlog::Append(std::string bytes) {
  if (empty()) {
    buf_ = std::move(bytes);
    pos_ = 0;
  } else {
    buf_ += bytes;
  }
}

void PageLink::Backlog::Consume(size_t n, size_t compact_at) {
  pos_ += n;
  if (empty()) {
    Clear();
  } else if (pos_ >= compact_at) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

void PageLink::Backlog::Clear() {
  buf_.clear();
  pos_ = 0;
}

PageLink::PageLink(std::unique_ptr<TlsConnection> conn, int local_fd, PageLinkOptions options,
                   PageLinkHandler& handler)
    : conn_(std::move(conn)),
      local_fd_(local_fd),
      options_(std::move(options)),
      handler_(handler),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      compressor_(std::max(options_.zstd_level, 1)) {}

PageLink::~PageLink() = default;

void PageLink::Wake() {
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

void PageLink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  Wake();
}

void PageLink::Send(ps::LinkControl message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(message));
  }
  Wake();
}

void PageLink::CloseLocal() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    close_local_requested_ = true;
  }
  Wake();
}

PageLink::Stats PageLink::stats() const {
  return Stats{to_peer_raw_.load(),    to_peer_wire_.load(), from_peer_raw_.load(),
               from_peer_wire_.load(), frames_in_.load(),    frames_out_.load()};
}

Status PageLink::Run() {
  Status st = Loop();
  if (st.ok()) st = FlushAndClose();
  if (!st.ok()) {
    conn_->Abort();  // a reset: the peer must not take this for an orderly end
    return st.WithContext("page link" + (options_.label.empty() ? "" : " " + options_.label));
  }
  return st;
}

Status PageLink::Prepare() {
  MIGRATE_RETURN_IF_ERROR(ValidateOptions(options_));
  if (!conn_) return Status::InvalidArgument("page link without a connection");
  if (wake_fd_.get() < 0) return Status::FromErrno("eventfd", errno);
  int flags = fcntl(local_fd_, F_GETFL);
  if (flags < 0 || fcntl(local_fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status::FromErrno("make the local page socket non-blocking", errno);
  }
  struct stat st;
  if (fstat(local_fd_, &st) != 0) return Status::FromErrno("stat the local page socket", errno);
  local_socket_ = S_ISSOCK(st.st_mode);
  read_buf_.resize(options_.max_data_frame);
  const auto now = Clock::now();
  last_heard_ = now;
  next_ping_ = now;
  return Status::Ok();
}

Status PageLink::Loop() {
  MIGRATE_RETURN_IF_ERROR(Prepare());
  for (;;) {
    bool stop = TakeRequests();
    MIGRATE_RETURN_IF_ERROR(WriteTls());
    if (stop) return Status::Ok();
    PingIfDue(Clock::now());
    MIGRATE_RETURN_IF_ERROR(WriteTls());
    MIGRATE_RETURN_IF_ERROR(PollOnce());
    MIGRATE_RETURN_IF_ERROR(CheckSilence(Clock::now()));
  }
}

bool PageLink::TakeRequests() {
  std::vector<ps::LinkControl> requests;
  bool stop, close_local;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests.swap(requests_);
    stop = stop_requested_;
    close_local = close_local_requested_;
  }
  for (const auto& m : requests) QueueControl(m);
  if (close_local && !local_closed_) DropLocal();
  return stop;
}

void PageLink::PingIfDue(Clock::time_point now) {
  if (options_.ping_interval.count() <= 0 || now < next_ping_) return;
  const uint64_t seq = next_ping_seq_++;
  pings_[seq] = now;
  if (pings_.size() > kMaxPendingPings) pings_.erase(pings_.begin());
  ps::LinkControl ping;
  ping.mutable_ping()->set_seq(seq);
  QueueControl(ping);
  next_ping_ = now + options_.ping_interval;
}

bool PageLink::WantTlsRead() const { return to_local_.size() < kLocalHighWater; }

Status PageLink::CheckSilence(Clock::time_point now) {
  // A peer held back by this side's own local backlog is not silent.
  if (!WantTlsRead()) last_heard_ = now;
  if (now - last_heard_ < options_.io_timeout) return Status::Ok();
  return Status::DeadlineExceeded("nothing from the peer for " +
                                  std::to_string(options_.io_timeout.count()) + " ms");
}

Status PageLink::PollOnce() {
  const bool read_tls = WantTlsRead();
  const bool write_tls = !out_.empty();
  const bool read_local = !local_eof_ && !local_closed_ && out_.size() < kOutHighWater;
  const bool write_local = !local_closed_ && !to_local_.empty();
  pollfd fds[3] = {{read_tls || write_tls ? conn_->fd() : -1,
                    static_cast<short>((read_tls ? POLLIN : 0) | (write_tls ? POLLOUT : 0)), 0},
                   {read_local || write_local ? local_fd_ : -1,
                    static_cast<short>((read_local ? POLLIN : 0) | (write_local ? POLLOUT : 0)), 0},
                   {wake_fd_.get(), POLLIN, 0}};
  // Bytes OpenSSL already took off the socket are not seen by poll().
  const bool buffered = read_tls && !tls_stalled_ && conn_->HasBufferedInput();
  const auto now = Clock::now();
  Clock::time_point until = last_heard_ + options_.io_timeout;
  if (options_.ping_interval.count() > 0) until = std::min(until, next_ping_);
  int r = poll(fds, 3, buffered ? 0 : MillisUntil(until, now));
  if (r < 0) return errno == EINTR ? Status::Ok() : Status::FromErrno("poll", errno);
  if (fds[2].revents & POLLIN) {
    uint64_t count;
    (void)!read(wake_fd_.get(), &count, sizeof(count));
  }
  if (fds[0].revents != 0) tls_stalled_ = false;
  if (read_tls && (buffered || (fds[0].revents & (POLLIN | POLLERR | POLLHUP)))) {
    MIGRATE_RETURN_IF_ERROR(ReadTls());
  }
  if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) MIGRATE_RETURN_IF_ERROR(WriteLocal());
  if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) MIGRATE_RETURN_IF_ERROR(ReadLocal());
  return Status::Ok();
}

// ---- network side ----

Status PageLink::ReadTls() {
  for (size_t round = 0; round < 4 && WantTlsRead(); ++round) {
    if (in_begin_ > 0) {  // keep the unhandled bytes at the front
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    // Grows to hold the largest frame (4 MiB) at most, once one comes.
    if (in_.size() - in_end_ < kTlsReadBytes) in_.resize(in_end_ + kTlsReadBytes);
    MIGRATE_ASSIGN_OR_RETURN(size_t got, conn_->TryRead(in_.data() + in_end_, kTlsReadBytes));
    if (got == 0) {
      tls_stalled_ = true;
      return Status::Ok();
    }
    in_end_ += got;
    last_heard_ = Clock::now();
    MIGRATE_RETURN_IF_ERROR(ParseFrames());
  }
  return Status::Ok();
}

Status PageLink::ParseFrames() {
  while (in_end_ - in_begin_ >= kFrameHeaderBytes) {
    auto h = DecodeFrameHeader(in_.data() + in_begin_, kMaxLinkFrame);
    if (!h.ok()) return Status::DataLoss(h.status().message());
    if (in_end_ - in_begin_ < kFrameHeaderBytes + h->length) return Status::Ok();
    std::string_view payload(in_.data() + in_begin_ + kFrameHeaderBytes, h->length);
    in_begin_ += kFrameHeaderBytes + h->length;
    from_peer_wire_ += kFrameHeaderBytes + h->length;
    ++frames_in_;
    if (h->type == ps::FRAME_TYPE_LINK_DATA) {
      MIGRATE_RETURN_IF_ERROR(OnData(payload));
    } else if (h->type == ps::FRAME_TYPE_LINK_CONTROL) {
      MIGRATE_RETURN_IF_ERROR(OnControlFrame(payload));
    } else {
      return Status::DataLoss("unexpected " + std::string(FrameTypeName(h->type)) +
                              " frame on the page link");
    }
  }
  return Status::Ok();
}

Status PageLink::OnData(std::string_view payload) {
  if (payload.size() < kDataHeaderBytes) return Status::DataLoss("LINK_DATA frame too short");
  const auto encoding = static_cast<ps::ChunkEncoding>(static_cast<uint8_t>(payload[0]));
  const uint32_t raw = GetU32Le(payload.data() + 1);
  if (raw == 0 || raw > kMaxLinkRaw) {
    return Status::DataLoss("LINK_DATA of " + std::to_string(raw) + " bytes (1 .. 4 MiB)");
  }
  Status st =
      decompressor_.Decode(encoding, payload.substr(kDataHeaderBytes), to_local_.Extend(raw), raw);
  if (!st.ok()) return st.WithContext("LINK_DATA frame " + std::to_string(frames_in_.load()));
  from_peer_raw_ += raw;
  if (local_closed_) DropLocal();  // checked, then dropped: nobody reads it any more
  return WriteLocal();
}

Status PageLink::OnControlFrame(std::string_view payload) {
  ps::LinkControl m;
  if (!m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::DataLoss("malformed LINK_CONTROL frame");
  }
  switch (m.kind_case()) {
    case ps::LinkControl::kPing:
      if (handler_.OnPing(m.ping().seq())) {
        ps::LinkControl pong;
        pong.mutable_pong()->set_seq(m.ping().seq());
        QueueControl(pong);
      }
      return Status::Ok();
    case ps::LinkControl::kPong:
      return OnPongFrame(m.pong().seq());
    case ps::LinkControl::KIND_NOT_SET:
      return Status::DataLoss("LINK_CONTROL frame without a message");
    default:
      handler_.OnControl(m);
      return Status::Ok();
  }
}

Status PageLink::OnPongFrame(uint64_t seq) {
  auto it = pings_.find(seq);
  if (it == pings_.end()) {
    return Status::DataLoss("PONG " + std::to_string(seq) + " answers no PING of this side");
  }
  const Clock::time_point sent = it->second;
  // Answers come in order: older pings left unanswered never will be.
  pings_.erase(pings_.begin(), std::next(it));
  handler_.OnPong(seq, sent);
  return Status::Ok();
}

void PageLink::QueueFrame(std::string frame) {
  to_peer_wire_ += frame.size();
  ++frames_out_;
  out_.Append(std::move(frame));
}

void PageLink::QueueControl(const ps::LinkControl& message) {
  QueueFrame(MessageFrame(ps::FRAME_TYPE_LINK_CONTROL, message));
}

Status PageLink::WriteTls() {
  while (!out_.empty()) {
    // A retried write must repeat the same length (the bytes may have moved).
    const size_t len = write_len_ != 0 ? write_len_ : std::min(kTlsWriteBytes, out_.size());
    MIGRATE_ASSIGN_OR_RETURN(size_t written, conn_->TryWrite(out_.data(), len));
    if (written == 0) {
      write_len_ = len;
      break;
    }
    write_len_ = 0;
    out_.Consume(written, kOutHighWater);
  }
  return Status::Ok();
}

Status PageLink::FlushAndClose() {
  const auto deadline = Clock::now() + options_.io_timeout;
  while (!out_.empty()) {
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded("the last frames did not go out in " +
                                      std::to_string(options_.io_timeout.count()) + " ms");
    }
    pollfd p{conn_->fd(), POLLOUT, 0};
    if (poll(&p, 1, MillisUntil(deadline, Clock::now())) < 0 && errno != EINTR) {
      return Status::FromErrno("poll", errno);
    }
    MIGRATE_RETURN_IF_ERROR(WriteTls());
  }
  (void)conn_->Shutdown(kCloseTimeout);  // a courtesy: what mattered has gone out
  return Status::Ok();
}

// ---- local side ----

Status PageLink::ReadLocal() {
  while (!local_eof_ && !local_closed_ && out_.size() < kOutHighWater) {
    ssize_t n = read(local_fd_, read_buf_.data(), read_buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0)
      return Status::IoError(std::string("read the local page socket: ") + strerror(errno));
    if (n == 0) {
      local_eof_ = true;
      handler_.OnLocalClosed();
      break;
    }
    QueueData(read_buf_.data(), static_cast<size_t>(n));
    MIGRATE_RETURN_IF_ERROR(WriteTls());
  }
  return Status::Ok();
}

void PageLink::QueueData(const char* data, size_t size) {
  std::string frame(kFrameHeaderBytes + kDataHeaderBytes, '\0');
  auto encoding = ps::CHUNK_ENCODING_RAW;
  if (options_.zstd_level > 0) {
    // Always a zstd frame: its content checksum (XXH64) lets the peer detect a corrupted frame
    // that TLS cannot (one corrupted before it was encrypted).
    auto enc = compressor_.Encode(data, size, &frame, /*raw_fallback=*/false);
    if (enc.ok()) encoding = *enc;
  }
  if (frame.size() == kFrameHeaderBytes + kDataHeaderBytes) {  // not compressed, or it failed
    encoding = ps::CHUNK_ENCODING_RAW;
    frame.append(data, size);
  }
  frame[kFrameHeaderBytes] = static_cast<char>(encoding);
  PutU32Le(static_cast<uint32_t>(size), frame.data() + kFrameHeaderBytes + 1);
  if (options_.tamper_hook) {
    std::string payload = frame.substr(kFrameHeaderBytes);
    options_.tamper_hook(data_frames_out_, payload);
    frame.resize(kFrameHeaderBytes);
    frame += payload;
  }
  ++data_frames_out_;
  EncodeFrameHeader(ps::FRAME_TYPE_LINK_DATA,
                    static_cast<uint32_t>(frame.size() - kFrameHeaderBytes), frame.data());
  to_peer_raw_ += size;
  QueueFrame(std::move(frame));
}

Status PageLink::WriteLocal() {
  while (!local_closed_ && !to_local_.empty()) {
    // A socket's peer may be gone: EPIPE, never a SIGPIPE that kills the agent.
    ssize_t n = local_socket_ ? send(local_fd_, to_local_.data(), to_local_.size(), MSG_NOSIGNAL)
                              : write(local_fd_, to_local_.data(), to_local_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      return Status::IoError(std::string("write the local page socket: ") + strerror(errno));
    }
    to_local_.Consume(static_cast<size_t>(n), kLocalHighWater);
  }
  return Status::Ok();
}

void PageLink::DropLocal() {
  local_closed_ = true;
  to_local_.Clear();
}

}  // namespace migrate::transfer
