// Finding a program the way a shell would, resolved before fork or spawn (the child of a
// threaded process should do nothing but exec).
#pragma once

#include <string>
#include <string_view>

namespace migrate::fence {

// NAME itself when it holds a '/', else the first executable NAME in the directories of $PATH
// (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin when PATH is unset); empty when
// there is none.
std::string FindExecutable(std::string_view name);

bool IsExecutable(const std::string& path);

}  // namespace migrate::fence
