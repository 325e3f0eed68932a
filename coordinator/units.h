// Human-readable sizes for progress lines and run summaries: "7.65 kB", "1.22 GB"
// (decimal units, as the README's tables).
#pragma once

#include <string>

namespace signfed::coord {

std::string human_bytes(double bytes);

}  // namespace signfed::coord
