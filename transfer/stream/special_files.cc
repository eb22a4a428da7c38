#include "transfer/stream/special_files.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

#include "transfer/base/quote.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

std::string Octal(unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0%o", value);
  return buf;
}

std::string What(const ps::Entry& e) {
  return std::string(EntryTypeName(e.type())) + " " + Quote(e.path());
}

}  // namespace

Result<ps::EntryType> EntryTypeOf(mode_t st_mode, const std::string& path) {
  switch (st_mode & S_IFMT) {
    case S_IFREG:
      return ps::ENTRY_TYPE_REGULAR;
    case S_IFDIR:
      return ps::ENTRY_TYPE_DIRECTORY;
    case S_IFLNK:
      return ps::ENTRY_TYPE_SYMLINK;
    case S_IFIFO:
      return ps::ENTRY_TYPE_FIFO;
    case S_IFSOCK:
      return ps::ENTRY_TYPE_SOCKET;
    case S_IFCHR:
      return ps::ENTRY_TYPE_CHAR_DEVICE;
    case S_IFBLK:
      return ps::ENTRY_TYPE_BLOCK_DEVICE;
    default:
      return Status::FailedPrecondition("cannot send " + path + ": file type " +
                                        Octal(st_mode & S_IFMT) + " is not one the stream carries");
  }
}

bool IsSpecialEntryType(ps::EntryType type) {
  return type == ps::ENTRY_TYPE_FIFO || type == ps::ENTRY_TYPE_SOCKET || IsDeviceEntryType(type);
}

bool IsDeviceEntryType(ps::EntryType type) {
  return type == ps::ENTRY_TYPE_CHAR_DEVICE || type == ps::ENTRY_TYPE_BLOCK_DEVICE;
}

std::string_view EntryTypeName(ps::EntryType type) {
  switch (type) {
    case ps::ENTRY_TYPE_REGULAR:
      return "file";
    case ps::ENTRY_TYPE_DIRECTORY:
      return "directory";
    case ps::ENTRY_TYPE_SYMLINK:
      return "symlink";
    case ps::ENTRY_TYPE_HARDLINK:
      return "hard link";
    case ps::ENTRY_TYPE_FIFO:
      return "FIFO";
    case ps::ENTRY_TYPE_SOCKET:
      return "socket";
    case ps::ENTRY_TYPE_CHAR_DEVICE:
      return "character device";
    case ps::ENTRY_TYPE_BLOCK_DEVICE:
      return "block device";
    default:
      return "entry";
  }
}

Status CheckDeviceNumbers(const ps::Entry& e) {
  if (IsDeviceEntryType(e.type()) || (e.rdev_major() == 0 && e.rdev_minor() == 0)) {
    return Status::Ok();
  }
  return Status::InvalidArgument(What(e) + ": device numbers on an entry that is no device");
}

Status ValidateSpecialEntry(const ps::Entry& e, SpecialFilePolicy policy) {
  if (policy == SpecialFilePolicy::kNone) {
    return Status::InvalidArgument(
        What(e) + ": no special files in this stream (checkpoint images hold none)");
  }
  if (IsDeviceEntryType(e.type()) && policy != SpecialFilePolicy::kDevicesToo) {
    return Status::InvalidArgument(What(e) + " " + std::to_string(e.rdev_major()) + ":" +
                                   std::to_string(e.rdev_minor()) +
                                   ": device nodes are refused in received trees (this node's "
                                   "received_containers.allow_device_nodes is off)");
  }
  if ((e.mode() & 07000) != 0) {
    return Status::InvalidArgument(What(e) + ": mode " + Octal(e.mode()) +
                                   " has setuid, setgid or sticky bits");
  }
  return Status::Ok();
}

mode_t SpecialFileType(ps::EntryType type) {
  switch (type) {
    case ps::ENTRY_TYPE_FIFO:
      return S_IFIFO;
    case ps::ENTRY_TYPE_SOCKET:
      return S_IFSOCK;
    case ps::ENTRY_TYPE_CHAR_DEVICE:
      return S_IFCHR;
    case ps::ENTRY_TYPE_BLOCK_DEVICE:
      return S_IFBLK;
    default:
      return 0;
  }
}

dev_t DeviceNumberOf(const ps::Entry& e) {
  return IsDeviceEntryType(e.type()) ? makedev(e.rdev_major(), e.rdev_minor()) : 0;
}

}  // namespace migrate::transfer
