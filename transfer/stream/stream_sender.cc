// SendTree: three stages joined by bounded queues.
//   reader thread   source.Next(), lstat, pread (data extents only; all-zero chunks skipped)
//   compressors     zero-page map, zstd, the chunk's tag (GMAC), the complete DATA frame
//   calling thread  frames in stream order -> TLS; file and manifest digests; the verdict
// Backpressure: the reader stops when `max_inflight` chunks are queued or compressing, the
// writer blocks on TLS writes when the receiver (TCP) is slow.
#include "transfer/stream/stream_sender.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "proto/stream.pb.h"
#include "transfer/base/log.h"
#include "transfer/base/string_pool.h"
#include "transfer/base/unique_fd.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/hello.h"
#include "transfer/stream/special_files.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

struct Job {
  enum class Kind { kEntry, kChunk, kEntryEnd, kEnd, kError };
  Kind kind = Kind::kEntry;
  ps::Entry entry;        // kEntry
  uint32_t entry_id = 0;  // kChunk, kEntryEnd
  uint64_t offset = 0;    // kChunk
  uint32_t raw_length = 0;
  std::string raw;    // kChunk: raw bytes (capacity reused)
  std::string frame;  // kChunk: the complete DATA frame once done
  ChunkTag tag{};
  std::string zero_map;  // kChunk: omitted all-zero pages
  Status status;         // kError, or a compression failure
  bool done = false;     // kChunk: compressed (guarded by Pipeline::mu)
};
using JobPtr = std::shared_ptr<Job>;

class Pipeline {
 public:
  Pipeline(const SendOptions& options, FileSource& source, const CancelFlag* cancel,
           const TagKey& tag_key)
      : options_(options),
        source_(source),
        cancel_(cancel),
        tag_key_(tag_key),
        max_inflight_(static_cast<size_t>(2 * options.compress_threads + 2)) {}

  ~Pipeline() { Stop(); }

  void Start() {
    reader_ = std::thread([this] { ReadSource(); });
    for (int i = 0; i < options_.compress_threads; ++i) {
      compressors_.emplace_back([this] { Compress(); });
    }
  }

  void Stop() {
    stop_flag_.Cancel();  // also wakes a reader blocked in source.Next()
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    space_cv_.notify_all();
    work_cv_.notify_all();
    done_cv_.notify_all();
    if (reader_.joinable()) reader_.join();
    for (auto& t : compressors_) t.join();
    compressors_.clear();
  }

  // The next job in stream order once it is ready, waiting at most until `until`;
  // nullptr (and *cancelled) when cancelled, nullptr alone when nothing came in time.
  JobPtr Pop(Clock::time_point until, bool* cancelled) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (stop_ || (cancel_ != nullptr && cancel_->cancelled())) {
        *cancelled = true;
        return nullptr;
      }
      if (!ordered_.empty() &&
          (ordered_.front()->kind != Job::Kind::kChunk || ordered_.front()->done)) {
        JobPtr job = std::move(ordered_.front());
        ordered_.pop_front();
        if (job->kind == Job::Kind::kChunk) --inflight_;
        space_cv_.notify_one();
        return job;
      }
      auto now = Clock::now();
      if (now >= until) return nullptr;
      done_cv_.wait_until(lock, std::min(until, now + std::chrono::milliseconds(100)));
    }
  }

  void Recycle(JobPtr job) {
    if (job->kind != Job::Kind::kChunk) return;
    pool_.Put(std::move(job->frame));
  }

 private:
  // Queues a job in stream order; chunks also go to the compressors. False when stopping.
  bool Push(JobPtr job) {
    std::unique_lock<std::mutex> lock(mu_);
    if (job->kind == Job::Kind::kChunk) {
      space_cv_.wait(lock, [&] { return stop_ || inflight_ < max_inflight_; });
      if (stop_) return false;
      ++inflight_;
      work_.push_back(job);
      work_cv_.notify_one();
    }
    if (stop_) return false;
    ordered_.push_back(std::move(job));
    done_cv_.notify_one();
    return true;
  }

  void PushError(Status status) {
    auto job = std::make_shared<Job>();
    job->kind = Job::Kind::kError;
    job->status = std::move(status);
    Push(std::move(job));
  }

  // One bit per all-zero 4 KiB page (LSB first); empty when no page is all zero.
  static std::string ZeroPageMap(const char* data, size_t size) {
    const size_t pages = (size + kPageBytes - 1) / kPageBytes;
    std::string map;
    for (size_t i = 0; i < pages; ++i) {
      size_t len = std::min<size_t>(kPageBytes, size - i * kPageBytes);
      if (!IsAllZero(data + i * kPageBytes, len)) continue;
      if (map.empty()) map.assign((pages + 7) / 8, '\0');
      map[i / 8] = static_cast<char>(static_cast<uint8_t>(map[i / 8]) | (1u << (i % 8)));
    }
    return map;
  }

  void Compress() {
    ChunkCompressor compressor(options_.zstd_level);
    ChunkTagger tagger(tag_key_);
    std::string packed;
    for (;;) {
      JobPtr job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || !work_.empty(); });
        if (stop_) return;
        job = std::move(work_.front());
        work_.pop_front();
      }
      // All-zero pages are left out (the receiver leaves holes): they cost no hashing, no
      // compression, no wire bytes and no page-cache writes on the other side.
      const char* data = job->raw.data();
      size_t size = job->raw_length;
      job->zero_map = ZeroPageMap(job->raw.data(), job->raw_length);
      if (!job->zero_map.empty()) {
        packed.clear();
        const size_t pages = (job->raw_length + kPageBytes - 1) / kPageBytes;
        for (size_t i = 0; i < pages; ++i) {
          if (PageOmitted(job->zero_map, i)) continue;
          size_t len = std::min<size_t>(kPageBytes, job->raw_length - i * kPageBytes);
          packed.append(job->raw.data() + i * kPageBytes, len);
        }
        data = packed.data();
        size = packed.size();
      }
      ChunkHeader h;
      h.entry_id = job->entry_id;
      h.raw_length = job->raw_length;
      h.offset = job->offset;
      h.zero_map = job->zero_map;
      job->frame = pool_.Get();
      job->frame.resize(kFrameHeaderBytes + ChunkHeaderSize(h));
      auto enc = compressor.Encode(data, size, &job->frame);
      pool_.Put(std::move(job->raw));
      Result<ChunkTag> tag = enc.status();
      char* payload = job->frame.data() + kFrameHeaderBytes;
      const size_t payload_size = job->frame.size() - kFrameHeaderBytes;
      if (enc.ok()) {
        h.encoding = *enc;
        EncodeChunkHeader(h, payload);
        // The tag covers the header and the chunk as sent (compressed or stored): ~2.65x
        // fewer bytes than the raw data; zstd's checksum covers the decompression.
        tag = ChunkTagOf(tagger, h, std::string_view(payload, payload_size));
      }
      if (tag.ok()) {
        job->tag = *tag;
        SetChunkTag(*tag, payload);
        EncodeFrameHeader(ps::FRAME_TYPE_DATA, static_cast<uint32_t>(payload_size),
                          job->frame.data());
      } else {
        job->status = tag.status();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        job->done = true;
      }
      done_cv_.notify_all();
    }
  }

  void ReadSource() {
    Status st = ReadAll();
    if (st.ok()) st = source_.Finish();
    if (!st.ok()) {
      PushError(st.WithContext("read source " + source_.root()));
      return;
    }
    auto end = std::make_shared<Job>();
    end->kind = Job::Kind::kEnd;
    Push(std::move(end));
  }

  Status ReadAll() {
    uint32_t next_id = 1;
    std::map<std::pair<dev_t, ino_t>, std::string> links;  // first path of multi-link files
    for (;;) {
      MIGRATE_ASSIGN_OR_RETURN(auto next, source_.Next(&stop_flag_));
      if (!next) return Status::Ok();
      const std::string& rel = next->relative_path;
      std::string full = source_.root() + "/" + rel;
      struct stat st;
      if (lstat(full.c_str(), &st) != 0) return Status::FromErrno("stat " + full, errno);
      // Every file is sent as what it is, or the stream fails naming it: never dropped.
      MIGRATE_ASSIGN_OR_RETURN(ps::EntryType type, EntryTypeOf(st.st_mode, full));
      auto job = std::make_shared<Job>();
      ps::Entry& e = job->entry;
      DescribeEntry(rel, st, type, &e);
      bool regular = false;
      if (type == ps::ENTRY_TYPE_SYMLINK) {
        MIGRATE_RETURN_IF_ERROR(ReadLinkTarget(full, st, &e));
      } else if (type == ps::ENTRY_TYPE_REGULAR) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = st.st_nlink > 1 ? links.find(key) : links.end();
        if (it != links.end()) {
          e.set_type(ps::ENTRY_TYPE_HARDLINK);
          e.set_link_target(it->second);
        } else {
          if (st.st_nlink > 1) links.emplace(key, rel);
          if (next->growing) {
            e.set_size_at_end(true);  // still being written: the size follows at the end
          } else {
            e.set_size(static_cast<uint64_t>(st.st_size));
          }
          regular = true;
        }
      }
      uint32_t id = next_id++;
      e.set_id(id);
      if (!Push(job)) return Status::Aborted("cancelled");
      auto end = std::make_shared<Job>();
      end->kind = Job::Kind::kEntryEnd;
      end->entry_id = id;
      end->offset = static_cast<uint64_t>(st.st_size);
      if (regular && next->growing) {
        MIGRATE_ASSIGN_OR_RETURN(struct stat final_st, FollowFile(full, id, *next));
        end->offset = static_cast<uint64_t>(final_st.st_size);
        end->entry.set_size_at_end(true);
        end->entry.set_mtime_sec(final_st.st_mtim.tv_sec);
        end->entry.set_mtime_nsec(static_cast<uint32_t>(final_st.st_mtim.tv_nsec));
      } else if (regular) {
        MIGRATE_RETURN_IF_ERROR(ReadFile(full, id, st));
      }
      if (!Push(std::move(end))) return Status::Aborted("cancelled");
    }
  }

  // What every entry carries: path, type, mode, owner, mtime, and a device's number.
  static void DescribeEntry(const std::string& rel, const struct stat& st, ps::EntryType type,
                            ps::Entry* e) {
    e->set_path(rel);
    e->set_type(type);
    e->set_mode(st.st_mode & 07777);
    e->set_uid(st.st_uid);
    e->set_gid(st.st_gid);
    e->set_mtime_sec(st.st_mtim.tv_sec);
    e->set_mtime_nsec(static_cast<uint32_t>(st.st_mtim.tv_nsec));
    if (IsDeviceEntryType(type)) {
      e->set_rdev_major(major(st.st_rdev));
      e->set_rdev_minor(minor(st.st_rdev));
    }
  }

  static Status ReadLinkTarget(const std::string& full, const struct stat& st, ps::Entry* e) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlink(full.c_str(), target.data(), target.size());
    if (n < 0) return Status::FromErrno("readlink " + full, errno);
    target.resize(static_cast<size_t>(n));
    e->set_link_target(target);
    return Status::Ok();
  }

  // Queues the file's data extents as chunks; holes and all-zero chunks are skipped.
  Status ReadFile(const std::string& full, uint32_t id, const struct stat& before) {
    MIGRATE_ASSIGN_OR_RETURN(UniqueFd file, OpenForReading(full));
    const int fd = file.get();
    const uint64_t size = static_cast<uint64_t>(before.st_size);
    uint64_t pos = 0;
    while (pos < size) {
      off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;  // only a hole is left
        return Status::FromErrno("seek data in " + full, errno);
      }
      off_t hole = lseek(fd, data, SEEK_HOLE);
      if (hole < 0) return Status::FromErrno("seek hole in " + full, errno);
      uint64_t extent_end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
      MIGRATE_RETURN_IF_ERROR(ReadChunks(fd, full, id, static_cast<uint64_t>(data), extent_end));
      pos = extent_end;
    }
    struct stat after;
    if (fstat(fd, &after) != 0) return Status::FromErrno("stat " + full, errno);
    if (after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
        after.st_mtim.tv_nsec != before.st_mtim.tv_nsec || after.st_ino != before.st_ino) {
      return Status::FailedPrecondition(full + " changed while being sent");
    }
    return Status::Ok();
  }

  // Streams a file its producer is still appending to: whole chunks as they appear, the
  // rest once the producer has closed it. Returns the file's final status.
  Result<struct stat> FollowFile(const std::string& full, uint32_t id, const SourceEntry& entry) {
    MIGRATE_ASSIGN_OR_RETURN(UniqueFd file, OpenForReading(full));
    const int fd = file.get();
    const uint64_t chunk = options_.chunk_bytes;
    uint64_t pos = 0;
    bool closed = false;
    struct stat st;
    for (;;) {
      if (fstat(fd, &st) != 0) return Status::FromErrno("stat " + full, errno);
      const uint64_t size = static_cast<uint64_t>(st.st_size);
      if (size < pos) return Status::FailedPrecondition(full + " shrank while being sent");
      const uint64_t until = closed ? size : pos + (size - pos) / chunk * chunk;
      MIGRATE_RETURN_IF_ERROR(ReadChunks(fd, full, id, pos, until));
      pos = until;
      if (closed) break;
      MIGRATE_ASSIGN_OR_RETURN(closed, source_.AwaitGrowth(entry, &stop_flag_));
    }
    struct stat now;
    if (lstat(full.c_str(), &now) != 0 || now.st_ino != st.st_ino) {
      return Status::FailedPrecondition(full + " was replaced while being sent");
    }
    return st;
  }

  static Result<UniqueFd> OpenForReading(const std::string& full) {
    int fd = open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + full, errno);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return UniqueFd(fd);
  }

  // Queues [from, to) of the file as chunks; all-zero chunks are skipped (holes).
  Status ReadChunks(int fd, const std::string& full, uint32_t id, uint64_t from, uint64_t to) {
    const uint64_t chunk = options_.chunk_bytes;
    for (uint64_t off = from; off < to;) {
      uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(chunk, to - off));
      auto job = std::make_shared<Job>();
      job->kind = Job::Kind::kChunk;
      job->entry_id = id;
      job->offset = off;
      job->raw_length = len;
      job->raw = pool_.Get();
      if (job->raw.size() < len) job->raw.resize(chunk);
      size_t got = 0;
      while (got < len) {
        ssize_t n = pread(fd, job->raw.data() + got, len - got, static_cast<off_t>(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::FromErrno("read " + full, errno);
        if (n == 0) return Status::FailedPrecondition(full + " shrank while being sent");
        got += static_cast<size_t>(n);
      }
      off += len;
      if (IsAllZero(job->raw.data(), len)) {  // leave a hole: costs no wire bytes
        pool_.Put(std::move(job->raw));
        continue;
      }
      if (!Push(std::move(job))) return Status::Aborted("cancelled");
    }
    return Status::Ok();
  }

  const SendOptions& options_;
  FileSource& source_;
  const CancelFlag* cancel_;
  const TagKey tag_key_;
  const size_t max_inflight_;
  StringPool pool_{8};
  CancelFlag stop_flag_;

  std::mutex mu_;
  std::condition_variable space_cv_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<JobPtr> ordered_;
  std::deque<JobPtr> work_;
  size_t inflight_ = 0;
  bool stop_ = false;

  std::thread reader_;
  std::vector<std::thread> compressors_;
};

Status ValidateOptions(const SendOptions& o) {
  if (o.host.empty() || o.port == 0) return Status::InvalidArgument("no host or port to send to");
  if (o.server_name.empty()) return Status::InvalidArgument("no expected server name");
  if (!o.tls) return Status::InvalidArgument("no TLS client context");
  if (o.token.empty()) return Status::InvalidArgument("no stream token");
  if (o.compress_threads < 1 || o.compress_threads > 8) {
    return Status::InvalidArgument("compress_threads must be 1..8");
  }
  if (o.chunk_bytes < (64u << 10) || o.chunk_bytes > (4u << 20)) {
    return Status::InvalidArgument("chunk_bytes must be 64 KiB .. 4 MiB");
  }
  if (o.zstd_level < -7 || o.zstd_level > 19) {
    return Status::InvalidArgument("zstd level must be -7..19");
  }
  return Status::Ok();
}

class Sender {
 public:
  Sender(const SendOptions& options, FileSource& source, const CancelFlag* cancel)
      : options_(options), source_(source), cancel_(cancel) {}

  Result<TransferStats> Run() {
    auto start = Clock::now();
    MIGRATE_ASSIGN_OR_RETURN(
        conn_,
        TlsConnection::Connect(options_.host, options_.port, options_.tls, options_.server_name,
                               start + options_.connect_timeout, cancel_));
    conn_->set_io_timeout(options_.io_timeout);
    conn_->set_cancel(cancel_);
    writer_ = std::make_unique<FrameWriter>(conn_.get());
    reader_ = std::make_unique<FrameReader>(conn_.get(), 1u << 20);

    Status st = Converse();
    stats_.duration = Clock::now() - start;
    stats_.wire_bytes = writer_->bytes();
    if (!st.ok()) {
      conn_->Abort();  // no close_notify: the receiver must see a broken stream
      return st;
    }
    return stats_;
  }

  // What the stream moved, whether it succeeded or not.
  const TransferStats& moved() const { return stats_; }

 private:
  Status Converse() {
    MIGRATE_RETURN_IF_ERROR(
        SendFrame(ps::FRAME_TYPE_HELLO, HelloFrame(options_.token, options_.label)));
    MIGRATE_RETURN_IF_ERROR(writer_->Flush());
    MIGRATE_RETURN_IF_ERROR(AwaitAccept(*conn_));

    MIGRATE_ASSIGN_OR_RETURN(TagKey tag_key, ExportChunkTagKey(*conn_));
    Pipeline pipeline(options_, source_, cancel_, tag_key);
    pipeline.Start();
    Status st = Stream(pipeline);
    pipeline.Stop();
    MIGRATE_RETURN_IF_ERROR(st);

    // Wait for the verdict: verification, metadata, fsync and the commit on the other side.
    conn_->set_io_timeout(options_.verdict_timeout);
    std::string payload;
    MIGRATE_ASSIGN_OR_RETURN(FrameHeader h, reader_->Next(&payload));
    if (h.type != ps::FRAME_TYPE_VERDICT) {
      return Status::Unavailable("receiver sent " + std::string(FrameTypeName(h.type)) +
                                 " instead of a verdict");
    }
    MIGRATE_RETURN_IF_ERROR(VerdictStatus(payload));
    // Committed: the close is a courtesy (an error here changes nothing).
    (void)conn_->Shutdown(std::chrono::seconds(2));
    return Status::Ok();
  }

  // Writes one frame (fault and tamper hooks for tests), checking first whether the
  // receiver has already sent its verdict (a refusal: stop at once).
  Status SendFrame(uint8_t type, std::string frame) {
    uint64_t index = frame_index_++;
    if (options_.fault_hook) {
      MIGRATE_RETURN_IF_ERROR(options_.fault_hook("frame", index).WithContext("injected"));
    }
    if (options_.tamper_hook) options_.tamper_hook(index, type, frame);
    if (conn_->ReadableNow()) MIGRATE_RETURN_IF_ERROR(EarlyVerdict());
    if (options_.rate_limit != nullptr && !options_.rate_limit->Take(frame.size(), cancel_)) {
      return Status::Aborted("cancelled");
    }
    Status st = writer_->Write(frame);
    if (!st.ok()) {
      // The receiver may have refused and closed: its reason beats "connection reset".
      Status why = EarlyVerdict();
      return why.ok() ? st : why;
    }
    if (options_.progress != nullptr) options_.progress->wire_bytes.store(writer_->bytes());
    pending_frame_ = std::move(frame);
    return Status::Ok();
  }

  Status EarlyVerdict() {
    conn_->set_io_timeout(std::chrono::milliseconds(1000));
    std::string payload;
    auto h = reader_->Next(&payload);
    conn_->set_io_timeout(options_.io_timeout);
    if (!h.ok()) return h.status().WithContext("connection lost");
    if (h->type != ps::FRAME_TYPE_VERDICT) {
      return Status::Unavailable("receiver sent an unexpected " +
                                 std::string(FrameTypeName(h->type)));
    }
    Status st = VerdictStatus(payload);
    if (st.ok()) return Status::Unavailable("receiver committed before the stream ended");
    return st;
  }

  Status Stream(Pipeline& pipeline) {
    Sha256 manifest;
    Sha256 file;
    uint64_t file_bytes = 0;
    uint32_t file_chunks = 0;
    uint32_t open_id = 0;
    bool open_regular = false;
    bool open_size_at_end = false;
    // While the producer has nothing new, keep the connection alive (the receiver times out
    // a silent stream) and make sure what is buffered has gone out.
    const auto keepalive = std::max(options_.io_timeout / 4, std::chrono::milliseconds(50));
    for (;;) {
      bool cancelled = false;
      JobPtr job = pipeline.Pop(Clock::now(), &cancelled);
      if (!job && !cancelled) {
        MIGRATE_RETURN_IF_ERROR(writer_->Flush());
        auto idle_since = Clock::now();
        while (!job && !cancelled) {
          job = pipeline.Pop(Clock::now() + std::chrono::milliseconds(100), &cancelled);
          if (job || cancelled) break;
          // A refusal (e.g. the receiver was cancelled) ends an idle stream at once.
          if (conn_->ReadableNow()) return EarlyVerdict();
          if (Clock::now() - idle_since >= keepalive) {
            std::string ping(kFrameHeaderBytes, '\0');
            EncodeFrameHeader(ps::FRAME_TYPE_KEEPALIVE, 0, ping.data());
            MIGRATE_RETURN_IF_ERROR(SendFrame(ps::FRAME_TYPE_KEEPALIVE, std::move(ping)));
            MIGRATE_RETURN_IF_ERROR(writer_->Flush());
            idle_since = Clock::now();
          }
        }
      }
      if (!job) return Status::Aborted("transfer cancelled");
      switch (job->kind) {
        case Job::Kind::kError:
          return job->status;
        case Job::Kind::kEntry: {
          std::string payload = job->entry.SerializeAsString();
          manifest.UpdateU32(static_cast<uint32_t>(payload.size()));
          manifest.Update(payload.data(), payload.size());
          open_id = job->entry.id();
          open_regular = job->entry.type() == ps::ENTRY_TYPE_REGULAR;
          open_size_at_end = job->entry.size_at_end();
          file_bytes = 0;
          file_chunks = 0;
          std::string frame(kFrameHeaderBytes, '\0');
          frame += payload;
          EncodeFrameHeader(ps::FRAME_TYPE_ENTRY, static_cast<uint32_t>(payload.size()),
                            frame.data());
          MIGRATE_RETURN_IF_ERROR(SendFrame(ps::FRAME_TYPE_ENTRY, std::move(frame)));
          break;
        }
        case Job::Kind::kChunk: {
          MIGRATE_RETURN_IF_ERROR(job->status);
          file.Update(job->tag.data(), job->tag.size());
          file_bytes += job->raw_length;
          ++file_chunks;
          stats_.raw_bytes += job->raw_length;
          MIGRATE_RETURN_IF_ERROR(SendFrame(ps::FRAME_TYPE_DATA, std::move(job->frame)));
          job->frame = std::move(pending_frame_);
          pipeline.Recycle(std::move(job));
          if (options_.progress != nullptr) options_.progress->raw_bytes.store(stats_.raw_bytes);
          break;
        }
        case Job::Kind::kEntryEnd: {
          if (job->entry_id != open_id) return Status::Internal("entry end out of order");
          ps::EntryEnd end;
          end.set_id(open_id);
          if (open_regular) {
            file.UpdateU64(job->offset);  // the file size
            Digest d = file.Final();
            end.set_digest(d.data(), d.size());
            manifest.Update(d.data(), d.size());
          }
          if (open_size_at_end) {
            end.set_size(job->offset);
            end.set_mtime_sec(job->entry.mtime_sec());
            end.set_mtime_nsec(job->entry.mtime_nsec());
          }
          end.set_data_bytes(file_bytes);
          end.set_chunks(file_chunks);
          MIGRATE_RETURN_IF_ERROR(
              SendFrame(ps::FRAME_TYPE_ENTRY_END, MessageFrame(ps::FRAME_TYPE_ENTRY_END, end)));
          ++stats_.files;
          ++entries_;
          if (options_.progress != nullptr) options_.progress->files.store(stats_.files);
          break;
        }
        case Job::Kind::kEnd: {
          ps::Trailer trailer;
          trailer.set_entries(entries_);
          trailer.set_data_bytes(stats_.raw_bytes);
          Digest d = manifest.Final();
          trailer.set_manifest_digest(d.data(), d.size());
          MIGRATE_RETURN_IF_ERROR(
              SendFrame(ps::FRAME_TYPE_TRAILER, MessageFrame(ps::FRAME_TYPE_TRAILER, trailer)));
          return writer_->Flush();
        }
      }
    }
  }

  const SendOptions& options_;
  FileSource& source_;
  const CancelFlag* cancel_;
  std::unique_ptr<TlsConnection> conn_;
  std::unique_ptr<FrameWriter> writer_;
  std::unique_ptr<FrameReader> reader_;
  TransferStats stats_;
  uint64_t entries_ = 0;
  uint64_t frame_index_ = 0;
  std::string pending_frame_;  // the last frame written (its buffer is recycled)
};

}  // namespace

Result<TransferStats> SendTree(const SendOptions& options, FileSource& source,
                               const CancelFlag* cancel) {
  MIGRATE_RETURN_IF_ERROR(ValidateOptions(options));
  Sender sender(options, source, cancel);
  if (options.observer != nullptr) options.observer->StreamStarted(StreamDirection::kSend);
  auto result = sender.Run();
  if (options.observer != nullptr) {
    options.observer->StreamEnded(StreamDirection::kSend, sender.moved());
  }
  if (!result.ok()) {
    return result.status().WithContext("send " + source.root() + " to " + options.server_name +
                                       " (" + options.host + ":" + std::to_string(options.port) +
                                       ")");
  }
  MIGRATE_LOG(kInfo, options.label)
      << "sent " << source.root() << ": " << result->files << " entries, " << result->raw_bytes
      << " bytes, " << result->wire_bytes << " on the wire in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(result->duration).count() << " ms";
  return result;
}

}  // namespace migrate::transfer
