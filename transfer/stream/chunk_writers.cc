#include "transfer/stream/chunk_writers.h"

#include <algorithm>

namespace migrate::transfer {

ChunkWriters::ChunkWriters(int threads, const TagKey& tag_key, const FaultHook& hook,
                           TransferProgress* progress)
    : tag_key_(tag_key), hook_(hook), progress_(progress) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
}

ChunkWriters::~ChunkWriters() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool ChunkWriters::Submit(std::shared_ptr<StagedFile> file, const ChunkHeader& h,
                          std::string payload) {
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

Status ChunkWriters::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return !error_.ok() || (tasks_.empty() && busy_ == 0); });
  return error_;
}

Status ChunkWriters::error() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void ChunkWriters::Run() {
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
    task.file.reset();  // the last chunk of a file lets it finish before the writer is idle
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
      if (!st.ok() && error_.ok()) error_ = st;
    }
    idle_cv_.notify_all();
    if (!st.ok()) space_cv_.notify_all();
  }
}

Status ChunkWriters::Write(ChunkDecompressor& decompressor, ChunkTagger& tagger, std::string& raw,
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
    MIGRATE_RETURN_IF_ERROR(WritePresentPages(task, data));
  }
  if (progress_ != nullptr) progress_->raw_bytes.fetch_add(task.h.raw_length);
  return Status::Ok();
}

Status ChunkWriters::WritePresentPages(const Task& task, const char* data) {
  // Runs of present pages; omitted pages are not written (the file is new and sized later):
  // they read as zeros. The chunk's range is allocated first, so the runs land in one
  // allocation instead of one per run.
  const ChunkHeader& h = task.h;
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
  return Status::Ok();
}

}  // namespace migrate::transfer
