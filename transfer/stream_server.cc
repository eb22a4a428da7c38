// StreamServer: an acceptor thread, a thread per connection (TLS, frames, validation) and
// per connection a pool of chunk writers (check the tag, decompress, pwrite). Everything a
// peer sends is checked before it touches the staging tree; see staging_tree.h for the file
// system side.
#include "transfer/stream_server.h"

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

#include "proto/stream.pb.h"
#include "transfer/chunk_codec.h"
#include "transfer/frames.h"
#include "transfer/log.h"
#include "transfer/staging_tree.h"
#include "transfer/string_pool.h"
#include "transfer/tls_connection.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

constexpr size_t kMinTokenBytes = 16;
constexpr size_t kQueuedPayloadBytes = 16u << 20;  // chunk payloads waiting for writers
constexpr auto kCloseTimeout = std::chrono::milliseconds(1000);

struct Slot {
  ExpectedStream expected;
  enum class State { kPending, kRunning, kDone } state = State::kPending;
  std::optional<Result<TransferStats>> outcome;
  CancelFlag cancel;
  TransferProgress progress;
};

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

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// The chunk writers of one connection.
class ChunkWriters {
 public:
  ChunkWriters(int threads, const TagKey& tag_key, const FaultHook& hook,
               TransferProgress* progress)
      : tag_key_(tag_key), hook_(hook), progress_(progress) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  ~ChunkWriters() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Queues a chunk (blocks while too much is queued). False once an error happened.
  bool Submit(std::shared_ptr<StagedFile> file, const ChunkHeader& h, std::string payload) {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] {
      return !error_.ok() || queued_bytes_ == 0 ||
             queued_bytes_ + payload.size() <= kQueuedPayloadBytes;
    });
    if (!error_.ok()) return false;
    queued_bytes_ += payload.size();
    tasks_.push_back(Task{std::move(file), h, std::move(payload)});
    cv_.notify_one();
    return true;
  }

  // Waits until every queued chunk is written; the first error, if any.
  Status Drain() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return !error_.ok() || (tasks_.empty() && busy_ == 0); });
    return error_;
  }

  Status error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  std::string GetBuffer() { return pool_.Get(); }
  void PutBuffer(std::string s) { pool_.Put(std::move(s)); }

 private:
  struct Task {
    std::shared_ptr<StagedFile> file;
    ChunkHeader h;
    std::string payload;  // chunk header + encoded bytes
  };

  void Run() {
    ChunkDecompressor decompressor;
    ChunkTagger tagger(tag_key_);
    std::string raw;
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
        queued_bytes_ -= task.payload.size();
        ++busy_;
      }
      space_cv_.notify_one();
      Status st = Write(decompressor, tagger, raw, task);
      pool_.Put(std::move(task.payload));
      {
        std::lock_guard<std::mutex> lock(mu_);
        --busy_;
        if (!st.ok() && error_.ok()) error_ = st;
      }
      idle_cv_.notify_all();
      if (!st.ok()) space_cv_.notify_all();
    }
  }

  Status Write(ChunkDecompressor& decompressor, ChunkTagger& tagger, std::string& raw,
               Task& task) {
    const ChunkHeader& h = task.h;
    const size_t packed = PackedLength(h);
    // The tag covers the header and the chunk as sent; zstd's content checksum, checked by
    // Decode, covers what decompression makes of it. Nothing is decoded before the tag holds.
    MIGRATE_ASSIGN_OR_RETURN(ChunkTag tag, ChunkTagOf(tagger, h, task.payload));
    if (!TagsEqual(tag, h.tag)) {
      return Status::DataLoss(task.file->path() + " chunk at offset " + std::to_string(h.offset) +
                              ": tag mismatch (the chunk is not what was sent)");
    }
    std::string_view encoded(task.payload);
    encoded.remove_prefix(ChunkHeaderSize(h));
    const char* data;
    if (h.encoding == proto::stream::CHUNK_ENCODING_RAW && encoded.size() == packed) {
      data = encoded.data();  // stored chunk: no copy
    } else {
      if (raw.size() < packed) raw.resize(packed);
      Status st = decompressor.Decode(h.encoding, encoded, raw.data(), packed);
      if (!st.ok()) {
        return st.WithContext(task.file->path() + " chunk at offset " + std::to_string(h.offset));
      }
      data = raw.data();
    }
    if (hook_) MIGRATE_RETURN_IF_ERROR(hook_("write", write_index_.fetch_add(1)));
    if (h.zero_map.empty()) {
      MIGRATE_RETURN_IF_ERROR(task.file->WriteAt(data, h.raw_length, h.offset));
    } else {
      // Runs of present pages; omitted pages are not written (the file is new and sized
      // later): they read as zeros. The chunk's range is allocated first, so the runs land in
      // one allocation instead of one per run.
      if (hook_) MIGRATE_RETURN_IF_ERROR(hook_("reserve", write_index_.fetch_add(1)));
      MIGRATE_RETURN_IF_ERROR(task.file->Reserve(h.offset, h.raw_length));
      const size_t pages = (h.raw_length + kPageBytes - 1) / kPageBytes;
      size_t i = 0;
      while (i < pages) {
        if (PageOmitted(h.zero_map, i)) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < pages && !PageOmitted(h.zero_map, j)) ++j;
        size_t len = std::min<size_t>(j * kPageBytes, h.raw_length) - i * kPageBytes;
        MIGRATE_RETURN_IF_ERROR(task.file->WriteAt(data, len, h.offset + i * kPageBytes));
        data += len;
        i = j;
      }
    }
    if (progress_ != nullptr) progress_->raw_bytes.fetch_add(task.h.raw_length);
    return Status::Ok();
  }

  const TagKey tag_key_;
  const FaultHook& hook_;
  TransferProgress* progress_;
  std::atomic<uint64_t> write_index_{0};
  StringPool pool_{8};
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_cv_;
  std::condition_variable idle_cv_;
  std::deque<Task> tasks_;
  size_t queued_bytes_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  Status error_;
  std::vector<std::thread> threads_;
};

// Receives one stream into a staging tree (the per-connection protocol state machine).
class Receiver {
 public:
  Receiver(Slot& slot, TlsConnection& conn, FrameReader& reader, int writer_threads)
      : slot_(slot),
        expected_(slot.expected),
        limits_(expected_.limits),
        conn_(conn),
        reader_(reader),
        writer_threads_(writer_threads) {}

  // Receives and verifies everything; on success the tree is complete (not committed).
  Status Receive(std::unique_ptr<StagingTree>* tree_out) {
    MIGRATE_ASSIGN_OR_RETURN(TagKey tag_key, ExportChunkTagKey(conn_));
    MIGRATE_ASSIGN_OR_RETURN(
        tree_, StagingTree::Create(expected_.staging_dir, expected_.preserve_ownership,
                                   expected_.fsync, expected_.fault_hook));
    writers_ = std::make_unique<ChunkWriters>(writer_threads_, tag_key, expected_.fault_hook,
                                              &slot_.progress);
    Status st = Loop();
    if (st.ok()) st = writers_->Drain();
    if (!st.ok()) {
      Status werr = writers_->error();
      writers_.reset();
      tree_.reset();  // removes the staging tree before anyone hears of the failure
      // A chunk writer's error is the root cause of a reader-side stop.
      if (!werr.ok() && st.code() != werr.code()) st = werr;
      return st;
    }
    writers_.reset();
    Status meta = tree_->ApplyMetadata();
    if (!meta.ok()) {
      tree_.reset();
      return meta.WithContext("apply metadata");
    }
    *tree_out = std::move(tree_);
    return Status::Ok();
  }

  uint64_t files() const { return files_; }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  Status Loop() {
    std::string payload;
    for (;;) {
      MIGRATE_RETURN_IF_ERROR(writers_->error());
      auto h = reader_.Next(&payload);
      if (!h.ok()) {
        if (h.status().code() == StatusCode::kDataLoss) {
          return Status::DataLoss(h.status().message() + " (before the trailer)");
        }
        return h.status();
      }
      slot_.progress.wire_bytes.store(reader_.bytes());
      switch (h->type) {
        case ps::FRAME_TYPE_ENTRY:
          MIGRATE_RETURN_IF_ERROR(OnEntry(payload));
          break;
        case ps::FRAME_TYPE_DATA:
          MIGRATE_RETURN_IF_ERROR(OnData(payload));
          break;
        case ps::FRAME_TYPE_ENTRY_END:
          MIGRATE_RETURN_IF_ERROR(OnEntryEnd(payload));
          break;
        case ps::FRAME_TYPE_TRAILER:
          return OnTrailer(payload);
        case ps::FRAME_TYPE_KEEPALIVE:
          if (!payload.empty()) return Status::InvalidArgument("KEEPALIVE frame with a payload");
          break;
        default:
          return Status::InvalidArgument("unexpected " + std::string(FrameTypeName(h->type)) +
                                         " frame in the data stream");
      }
    }
  }

  Status OnEntry(const std::string& payload) {
    if (open_) {
      return Status::InvalidArgument("ENTRY while entry " + std::to_string(entry_.id()) +
                                     " is still open");
    }
    entry_.Clear();
    if (!entry_.ParseFromString(payload)) return Status::InvalidArgument("malformed ENTRY frame");
    if (entry_.id() != next_id_) {
      return Status::InvalidArgument("entry id " + std::to_string(entry_.id()) +
                                     " out of order (expected " + std::to_string(next_id_) + ")");
    }
    if (++entries_ > limits_.max_entries) {
      return Status::InvalidArgument("more than " + std::to_string(limits_.max_entries) +
                                     " entries");
    }
    MIGRATE_RETURN_IF_ERROR(ValidateRelativePath(entry_.path(), limits_.max_path_bytes));
    if ((entry_.mode() & ~07777u) != 0) {
      return Status::InvalidArgument("entry " + Printable(entry_.path()) +
                                     ": mode has file type bits");
    }
    const bool is_link =
        entry_.type() == ps::ENTRY_TYPE_SYMLINK || entry_.type() == ps::ENTRY_TYPE_HARDLINK;
    if (!is_link && !entry_.link_target().empty()) {
      return Status::InvalidArgument("entry " + Printable(entry_.path()) +
                                     ": link target on a non-link");
    }
    if (entry_.type() != ps::ENTRY_TYPE_REGULAR && entry_.size() != 0) {
      return Status::InvalidArgument("entry " + Printable(entry_.path()) + ": size on a non-file");
    }
    if (entry_.size_at_end() &&
        (entry_.type() != ps::ENTRY_TYPE_REGULAR || entry_.size() != 0)) {
      return Status::InvalidArgument("entry " + Printable(entry_.path()) +
                                     ": size_at_end on a non-file or with a size");
    }
    manifest_.UpdateU32(static_cast<uint32_t>(payload.size()));
    manifest_.Update(payload.data(), payload.size());
    file_.reset();
    switch (entry_.type()) {
      case ps::ENTRY_TYPE_DIRECTORY:
        MIGRATE_RETURN_IF_ERROR(tree_->AddDirectory(entry_));
        break;
      case ps::ENTRY_TYPE_SYMLINK:
        MIGRATE_RETURN_IF_ERROR(tree_->AddSymlink(entry_, expected_.symlinks));
        break;
      case ps::ENTRY_TYPE_HARDLINK:
        MIGRATE_RETURN_IF_ERROR(tree_->AddHardlink(entry_));
        break;
      case ps::ENTRY_TYPE_REGULAR: {
        if (entry_.size() > limits_.max_file_size) {
          return Status::InvalidArgument("file " + Printable(entry_.path()) + " of " +
                                         std::to_string(entry_.size()) +
                                         " bytes is over the limit");
        }
        declared_bytes_ += entry_.size();
        if (declared_bytes_ > limits_.max_total_bytes) {
          return Status::InvalidArgument("stream declares more than " +
                                         std::to_string(limits_.max_total_bytes) + " bytes");
        }
        MIGRATE_ASSIGN_OR_RETURN(file_, tree_->AddRegular(entry_));
        break;
      }
      default:
        return Status::InvalidArgument("entry " + Printable(entry_.path()) + ": type " +
                                       std::to_string(entry_.type()) +
                                       " refused (only files, directories and links are accepted)");
    }
    open_ = true;
    ++next_id_;
    min_offset_ = 0;
    file_bytes_ = 0;
    file_chunks_ = 0;
    return Status::Ok();
  }

  Status OnData(std::string& payload) {
    MIGRATE_ASSIGN_OR_RETURN(ChunkHeader h, DecodeChunkHeader(payload));
    if (!open_ || !file_) return Status::InvalidArgument("DATA frame outside a regular file");
    if (h.entry_id != entry_.id()) {
      return Status::InvalidArgument("DATA for entry " + std::to_string(h.entry_id) +
                                     " while entry " + std::to_string(entry_.id()) + " is open");
    }
    if (h.raw_length == 0 || h.raw_length > limits_.max_chunk_raw_bytes) {
      return Status::InvalidArgument("chunk of " + std::to_string(h.raw_length) + " bytes refused");
    }
    if (h.offset < min_offset_) {
      return Status::DataLoss(Printable(entry_.path()) + ": chunk at offset " +
                              std::to_string(h.offset) + " out of order or overlapping");
    }
    // A file still being written when it was sent has no size yet: its chunks are bounded
    // by the file size limit and, with everything declared so far, by the total limit.
    const uint64_t bound = entry_.size_at_end() ? limits_.max_file_size : entry_.size();
    if (h.offset > bound || bound - h.offset < h.raw_length) {
      if (entry_.size_at_end()) {
        return Status::InvalidArgument(Printable(entry_.path()) + ": chunk beyond the limit of " +
                                       std::to_string(bound) + " bytes per file");
      }
      return Status::InvalidArgument(Printable(entry_.path()) +
                                     ": chunk beyond the declared size " +
                                     std::to_string(entry_.size()) + " (size lies)");
    }
    if (entry_.size_at_end() &&
        declared_bytes_ + h.offset + h.raw_length > limits_.max_total_bytes) {
      return Status::InvalidArgument("stream carries more than " +
                                     std::to_string(limits_.max_total_bytes) + " bytes");
    }
    min_offset_ = h.offset + h.raw_length;
    file_hash_.Update(h.tag.data(), h.tag.size());
    file_bytes_ += h.raw_length;
    ++file_chunks_;
    data_bytes_ += h.raw_length;
    std::string owned = writers_->GetBuffer();
    owned.swap(payload);  // hand the payload over; reuse a pooled buffer for the next frame
    if (!writers_->Submit(file_, h, std::move(owned))) return writers_->error();
    return Status::Ok();
  }

  Status OnEntryEnd(const std::string& payload) {
    ps::EntryEnd end;
    if (!end.ParseFromString(payload)) return Status::InvalidArgument("malformed ENTRY_END frame");
    if (!open_ || end.id() != entry_.id()) {
      return Status::InvalidArgument("ENTRY_END for entry " + std::to_string(end.id()) +
                                     " that is not open");
    }
    if (end.data_bytes() != file_bytes_ || end.chunks() != file_chunks_) {
      return Status::DataLoss(Printable(entry_.path()) + ": " + std::to_string(file_bytes_) +
                              " bytes in " + std::to_string(file_chunks_) +
                              " chunks received, sender says " + std::to_string(end.data_bytes()) +
                              " in " + std::to_string(end.chunks()));
    }
    uint64_t size = entry_.size();
    if (entry_.size_at_end()) {
      // The final size of a file that was still being written: it must hold every chunk.
      size = end.size();
      if (size < min_offset_ || size > limits_.max_file_size) {
        return Status::InvalidArgument(Printable(entry_.path()) + ": final size " +
                                       std::to_string(size) + " does not fit its chunks (end " +
                                       std::to_string(min_offset_) + ") or the limit");
      }
      declared_bytes_ += size;
      if (declared_bytes_ > limits_.max_total_bytes) {
        return Status::InvalidArgument("stream declares more than " +
                                       std::to_string(limits_.max_total_bytes) + " bytes");
      }
    } else if (end.size() != 0 || end.mtime_sec() != 0 || end.mtime_nsec() != 0) {
      return Status::InvalidArgument(Printable(entry_.path()) +
                                     ": final size or mtime for an entry whose size was known");
    }
    if (entry_.type() == ps::ENTRY_TYPE_REGULAR) {
      file_hash_.UpdateU64(size);
      Digest d = file_hash_.Final();
      if (end.digest().size() != d.size() ||
          std::memcmp(end.digest().data(), d.data(), d.size()) != 0) {
        return Status::DataLoss(Printable(entry_.path()) + ": file digest mismatch");
      }
      manifest_.Update(d.data(), d.size());
      MIGRATE_RETURN_IF_ERROR(tree_->SetSize(*file_, size));
      if (entry_.size_at_end()) tree_->SetMtime(*file_, end.mtime_sec(), end.mtime_nsec());
      file_.reset();
    } else if (!end.digest().empty()) {
      return Status::InvalidArgument(Printable(entry_.path()) + ": digest on a non-file entry");
    }
    open_ = false;
    ++files_;
    slot_.progress.files.store(files_);
    return Status::Ok();
  }

  Status OnTrailer(const std::string& payload) {
    ps::Trailer t;
    if (!t.ParseFromString(payload)) return Status::InvalidArgument("malformed TRAILER frame");
    if (open_)
      return Status::DataLoss("TRAILER while entry " + Printable(entry_.path()) + " is open");
    if (t.entries() != files_ || t.data_bytes() != data_bytes_) {
      return Status::DataLoss("trailer says " + std::to_string(t.entries()) + " entries and " +
                              std::to_string(t.data_bytes()) + " bytes, received " +
                              std::to_string(files_) + " and " + std::to_string(data_bytes_));
    }
    Digest d = manifest_.Final();
    if (t.manifest_digest().size() != d.size() ||
        std::memcmp(t.manifest_digest().data(), d.data(), d.size()) != 0) {
      return Status::DataLoss("manifest digest mismatch: the stream is not what was sent");
    }
    return Status::Ok();
  }

  Slot& slot_;
  const ExpectedStream& expected_;
  const StreamLimits& limits_;
  TlsConnection& conn_;
  FrameReader& reader_;
  int writer_threads_;
  std::unique_ptr<StagingTree> tree_;
  std::unique_ptr<ChunkWriters> writers_;

  Sha256 manifest_;
  Sha256 file_hash_;
  ps::Entry entry_;
  bool open_ = false;
  std::shared_ptr<StagedFile> file_;
  uint32_t next_id_ = 1;
  uint64_t entries_ = 0;
  uint64_t files_ = 0;
  uint64_t declared_bytes_ = 0;
  uint64_t data_bytes_ = 0;
  uint64_t min_offset_ = 0;
  uint64_t file_bytes_ = 0;
  uint32_t file_chunks_ = 0;
};

ps::VerdictCode VerdictCodeFor(const Status& st) {
  if (st.ok()) return ps::VERDICT_CODE_COMMITTED;
  if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kPermissionDenied) {
    return ps::VERDICT_CODE_REFUSED;
  }
  return ps::VERDICT_CODE_FAILED;
}

}  // namespace

struct StreamServer::Impl {
  StreamServerOptions options;
  int listen_fd = -1;
  int wake_fd = -1;
  uint16_t port = 0;
  std::thread acceptor;
  CancelFlag stop_flag;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Slot>> slots;  // by token
  struct Conn {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Conn> conns;
  bool stopping = false;

  ~Impl() {
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  void AcceptLoop();
  void ReapFinished();
  void HandleConnection(int fd, std::string peer);
  void Refuse(TlsConnection& conn, const Status& st, const std::string& peer);
  void Finish(const std::shared_ptr<Slot>& slot, Result<TransferStats> outcome);
};

void StreamServer::Impl::ReapFinished() {
  std::list<Conn> finished;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->done->load()) {
        finished.splice(finished.end(), conns, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c.thread.join();
}

void StreamServer::Impl::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int r = poll(fds, 2, 1000);
    if (stop_flag.cancelled()) return;
    if (r > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count;
      (void)!read(wake_fd, &count, sizeof(count));  // reset the eventfd (else: a busy loop)
    }
    ReapFinished();
    if (r <= 0 || !(fds[0].revents & POLLIN)) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
    std::string peer = std::string(host) + ":" + serv;
    std::lock_guard<std::mutex> lock(mu);
    if (stopping || static_cast<int>(conns.size()) >= options.max_connections) {
      MIGRATE_LOG(kWarn, "") << "stream server: refusing connection from " << peer
                             << " (too many connections)";
      close(fd);
      continue;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    conns.push_back(Conn{std::thread([this, fd, peer, done] {
                           HandleConnection(fd, peer);
                           done->store(true);
                           uint64_t one = 1;
                           (void)!write(wake_fd, &one, sizeof(one));
                         }),
                         done});
  }
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

void StreamServer::Impl::Finish(const std::shared_ptr<Slot>& slot, Result<TransferStats> outcome) {
  std::lock_guard<std::mutex> lock(mu);
  slot->outcome = std::move(outcome);
  slot->state = Slot::State::kDone;
  cv.notify_all();
}

void StreamServer::Impl::HandleConnection(int fd, std::string peer) {
  const auto start = Clock::now();
  auto accepted =
      TlsConnection::Accept(fd, options.tls, start + options.handshake_timeout, &stop_flag);
  if (!accepted.ok()) {
    MIGRATE_LOG(kWarn, "") << "stream server: " << peer << ": " << accepted.status().ToString();
    return;
  }
  TlsConnection& conn = **accepted;
  conn.set_cancel(&stop_flag);
  conn.set_io_timeout(options.handshake_timeout);
  FrameReader hello_reader(&conn, 64 * 1024);
  std::string payload;
  auto h = hello_reader.Next(&payload);
  if (!h.ok()) {
    MIGRATE_LOG(kWarn, "") << "stream server: " << peer << ": no HELLO: " << h.status().ToString();
    return;
  }
  ps::Hello hello;
  if (h->type != ps::FRAME_TYPE_HELLO || !hello.ParseFromString(payload)) {
    return Refuse(conn, Status::InvalidArgument("expected a HELLO frame first"), peer);
  }
  if (hello.protocol_version() != kProtocolVersion) {
    return Refuse(
        conn,
        Status::InvalidArgument("protocol version " + std::to_string(hello.protocol_version()) +
                                " not supported (this receiver speaks " +
                                std::to_string(kProtocolVersion) + ")"),
        peer);
  }
  auto id = tls::IdentifyPeer(conn.ssl());
  if (!id.ok()) return Refuse(conn, id.status(), peer);

  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = slots.find(hello.token());
    if (it == slots.end()) {
      slot = nullptr;
    } else if (it->second->state != Slot::State::kPending) {
      return Refuse(conn, Status::PermissionDenied("stream token already used"), peer);
    } else {
      const std::string& want = it->second->expected.expected_peer_node_name;
      bool name_ok = std::any_of(id->dns_names.begin(), id->dns_names.end(),
                                 [&](const std::string& n) { return EqualsIgnoreCase(n, want); });
      if (id->role != tls::Role::kNode || !name_ok) {
        return Refuse(
            conn,
            Status::PermissionDenied("peer certificate (" + id->common_name + ", role " +
                                     std::string(tls::RoleName(id->role)) + ") is not node " +
                                     want + " that this stream expects"),
            peer);
      }
      slot = it->second;
      slot->state = Slot::State::kRunning;
    }
  }
  if (!slot) return Refuse(conn, Status::PermissionDenied("unknown stream token"), peer);

  const ExpectedStream& expected = slot->expected;
  conn.set_cancel(&slot->cancel);
  conn.set_io_timeout(expected.limits.io_timeout);
  MIGRATE_LOG(kInfo, expected.label)
      << "stream from " << peer << " (" << id->common_name << ") into " << expected.final_dir;
  std::string accept = MessageFrame(ps::FRAME_TYPE_ACCEPT, [] {
    ps::Accept a;
    a.set_protocol_version(kProtocolVersion);
    return a;
  }());
  Status st = conn.WriteAll(accept.data(), accept.size());
  FrameReader reader(&conn, expected.limits.max_frame_bytes);
  std::unique_ptr<StagingTree> tree;
  Receiver receiver(*slot, conn, reader, options.decompress_threads);
  if (st.ok()) st = receiver.Receive(&tree);
  if (st.ok()) {
    // The commit and Cancel() exclude each other: a cancelled stream never appears.
    std::lock_guard<std::mutex> lock(mu);
    if (slot->cancel.cancelled()) {
      st = Status::Aborted("cancelled");
    } else {
      st = tree->Commit(expected.final_dir);
    }
  }
  if (!st.ok() && slot->cancel.cancelled() && st.code() != StatusCode::kAborted) {
    st = Status::Aborted("cancelled (" + st.message() + ")");
  }
  TransferStats stats;
  stats.files = receiver.files();
  stats.raw_bytes = receiver.data_bytes();
  stats.wire_bytes = hello_reader.bytes() + reader.bytes();
  stats.duration = Clock::now() - start;
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
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [token, slot] : impl_->slots) slot->cancel.Cancel();
  }
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
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->stopping) return Status::FailedPrecondition("stream server is stopping");
  if (impl_->slots.count(token) != 0)
    return Status::AlreadyExists("stream token already registered");
  auto slot = std::make_shared<Slot>();
  slot->expected = std::move(expected);
  impl_->slots.emplace(token, std::move(slot));
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
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->slots.find(token);
  if (it == impl_->slots.end()) return;
  Slot& slot = *it->second;
  if (slot.state == Slot::State::kDone) return;
  slot.cancel.Cancel();
  if (slot.state == Slot::State::kPending) {
    slot.state = Slot::State::kDone;
    slot.outcome = Result<TransferStats>(Status::Aborted("stream cancelled before it started"));
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
