// Pieces of Prometheus' text exposition format 0.0.4: how label values, help texts and sample
// values are written.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace migrate::metrics {

// A label value: backslash, double quote and newline escaped (\\, \", \n).
std::string EscapeLabelValue(std::string_view value);
// A HELP text: backslash and newline escaped.
std::string EscapeHelp(std::string_view help);
// A sample value: the shortest decimal that reads back exactly (integers without a fraction),
// +Inf/-Inf/NaN as Prometheus spells them.
std::string FormatValue(double value);
// `{a="x",b="y"}` for the pairs (empty pairs: nothing).
std::string FormatLabels(const std::vector<std::pair<std::string, std::string>>& labels);

// True for a metric or label name Prometheus accepts: [a-zA-Z_:][a-zA-Z0-9_:]* (label names
// without ':').
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace migrate::metrics
