// Fixed-width text tables for the CLI's reports.
#pragma once

#include <string>
#include <vector>

namespace migrate::controller {

// The first row is the header; columns are separated by two spaces; each line ends in "\n".
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace migrate::controller
