// The type of every entry a stream carries, and the rules for special files: FIFOs,
// unix-socket files and device nodes. The sender names each file by its type and never drops
// one (a type the protocol cannot carry fails the stream); the receiver recreates special
// files with mknod, only where the stream's SpecialFilePolicy admits them.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "proto/stream.pb.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

// The entry type a file of `st_mode` is sent as (REGULAR for every regular file: hard links
// are the sender's business). kFailedPrecondition naming `path` and its type for a file the
// protocol cannot carry.
Result<proto::stream::EntryType> EntryTypeOf(mode_t st_mode, const std::string& path);

// FIFO, socket, character or block device.
bool IsSpecialEntryType(proto::stream::EntryType type);
// Character or block device.
bool IsDeviceEntryType(proto::stream::EntryType type);
// "FIFO", "socket", "character device", ... for messages.
std::string_view EntryTypeName(proto::stream::EntryType type);

// kInvalidArgument unless device numbers are absent from `e` or `e` is a device node.
Status CheckDeviceNumbers(const proto::stream::Entry& e);

// kInvalidArgument, naming the entry, unless `policy` admits the special entry `e` and its
// mode holds permission bits only (no setuid, setgid or sticky bit on a special file).
Status ValidateSpecialEntry(const proto::stream::Entry& e, SpecialFilePolicy policy);

// What mknod gets for a special entry: its S_IF* type bits and its device number (0 unless
// a device).
mode_t SpecialFileType(proto::stream::EntryType type);
dev_t DeviceNumberOf(const proto::stream::Entry& e);

}  // namespace migrate::transfer
