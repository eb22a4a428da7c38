#include "transfer/stream/stream_receiver.h"

#include <cstring>

#include "transfer/stream/special_files.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Status StreamReceiver::Receive(std::unique_ptr<StagingTree>* tree_out) {
  StagingOptions staging;
  staging.preserve_ownership = expected_.preserve_ownership;
  staging.fsync = expected_.fsync;
  staging.max_kept_bytes = limits_.max_kept_bytes;
  staging.fault_hook = expected_.fault_hook;
  MIGRATE_ASSIGN_OR_RETURN(tree_, StagingTree::Create(expected_.staging_dir, std::move(staging)));
  writers_ =
      std::make_unique<ChunkWriters>(writer_threads_, tag_key_, expected_.fault_hook, &progress_);
  Status st = Loop();
  if (st.ok()) st = writers_->Drain();
  if (!st.ok()) {
    Status werr = writers_->error();
    tree_->Abandon();  // files still queued are not finished: the tree goes away
    writers_.reset();
    file_.reset();
    tree_.reset();  // removes the staging tree before anyone hears of the failure
    // A chunk writer's error is the root cause of a reader-side stop.
    if (!werr.ok() && st.code() != werr.code()) st = werr;
    return st;
  }
  writers_.reset();  // every file is finished now
  Status meta = tree_->ApplyMetadata();
  if (!meta.ok()) {
    tree_.reset();
    return meta.WithContext("apply metadata");
  }
  *tree_out = std::move(tree_);
  return Status::Ok();
}

Status StreamReceiver::Loop() {
  std::string payload;
  for (;;) {
    MIGRATE_RETURN_IF_ERROR(writers_->error());
    MIGRATE_RETURN_IF_ERROR(tree_->FilesError());
    auto h = reader_.Next(&payload);
    if (!h.ok()) {
      if (h.status().code() == StatusCode::kDataLoss) {
        return Status::DataLoss(h.status().message() + " (before the trailer)");
      }
      return h.status();
    }
    progress_.wire_bytes.store(reader_.bytes());
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

Status StreamReceiver::OnEntry(const std::string& payload) {
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
    return Status::InvalidArgument("more than " + std::to_string(limits_.max_entries) + " entries");
  }
  MIGRATE_RETURN_IF_ERROR(CheckEntryShape());
  manifest_.UpdateU32(static_cast<uint32_t>(payload.size()));
  manifest_.Update(payload.data(), payload.size());
  MIGRATE_RETURN_IF_ERROR(AddEntry());
  open_ = true;
  ++next_id_;
  min_offset_ = 0;
  file_bytes_ = 0;
  file_charged_ = 0;
  file_chunks_ = 0;
  return Status::Ok();
}

// What every entry must be, whatever its type: a valid path, permission bits only, fields
// only where its type has them.
Status StreamReceiver::CheckEntryShape() const {
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
  if (entry_.size_at_end() && (entry_.type() != ps::ENTRY_TYPE_REGULAR || entry_.size() != 0)) {
    return Status::InvalidArgument("entry " + Printable(entry_.path()) +
                                   ": size_at_end on a non-file or with a size");
  }
  return CheckDeviceNumbers(entry_);
}

Status StreamReceiver::AddEntry() {
  file_.reset();
  if (IsSpecialEntryType(entry_.type())) return tree_->AddSpecial(entry_, expected_.special_files);
  switch (entry_.type()) {
    case ps::ENTRY_TYPE_DIRECTORY:
      return tree_->AddDirectory(entry_);
    case ps::ENTRY_TYPE_SYMLINK:
      return tree_->AddSymlink(entry_, expected_.symlinks);
    case ps::ENTRY_TYPE_HARDLINK:
      return tree_->AddHardlink(entry_, expected_.symlinks);
    case ps::ENTRY_TYPE_REGULAR: {
      if (entry_.size() > limits_.max_file_size) {
        return Status::InvalidArgument("file " + Printable(entry_.path()) + " of " +
                                       std::to_string(entry_.size()) + " bytes is over the limit");
      }
      MIGRATE_RETURN_IF_ERROR(Charge(entry_.size()));
      MIGRATE_ASSIGN_OR_RETURN(file_, tree_->AddRegular(entry_));
      return Status::Ok();
    }
    default:
      return Status::InvalidArgument(
          "entry " + Printable(entry_.path()) + ": type " + std::to_string(entry_.type()) +
          " refused (only files, directories, links and special files are accepted)");
  }
}

Status StreamReceiver::OnData(std::string& payload) {
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
    return Status::InvalidArgument(Printable(entry_.path()) + ": chunk beyond the declared size " +
                                   std::to_string(entry_.size()) + " (size lies)");
  }
  if (entry_.size_at_end() && h.offset + h.raw_length > file_charged_) {
    // No size was declared: the file is charged as it grows.
    MIGRATE_RETURN_IF_ERROR(Charge(h.offset + h.raw_length - file_charged_));
    file_charged_ = h.offset + h.raw_length;
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

Status StreamReceiver::OnEntryEnd(const std::string& payload) {
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
    if (size > file_charged_) MIGRATE_RETURN_IF_ERROR(Charge(size - file_charged_));
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
    if (entry_.size_at_end()) file_->set_mtime(end.mtime_sec(), end.mtime_nsec());
    file_.reset();
  } else if (!end.digest().empty()) {
    return Status::InvalidArgument(Printable(entry_.path()) + ": digest on a non-file entry");
  }
  open_ = false;
  ++files_;
  progress_.files.store(files_);
  return Status::Ok();
}

Status StreamReceiver::Charge(uint64_t bytes) {
  declared_bytes_ += bytes;
  if (declared_bytes_ > limits_.max_total_bytes) {
    return Status::InvalidArgument("stream declares or carries more than " +
                                   std::to_string(limits_.max_total_bytes) + " bytes");
  }
  if (expected_.budget && !expected_.budget->Take(bytes)) {
    return Status::InvalidArgument(
        "stream writes more than the destination agreed to in preflight (" +
        std::to_string(expected_.budget->remaining()) + " bytes left of this migration's)");
  }
  return Status::Ok();
}

Status StreamReceiver::OnTrailer(const std::string& payload) {
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

}  // namespace migrate::transfer
