// signfed-bench output: a fixed-width table on stdout and a JSON document.
#pragma once

#include <iosfwd>
#include <span>
#include <string>

#include "tools/bench/bench_registry.h"

namespace signfed::bench {

void print_table_header(std::ostream& os);
void print_table_rows(std::ostream& os, std::span<const BenchResult> rows);
// One line per best-variant result that misses its target; returns the count.
int print_misses(std::ostream& os, std::span<const BenchResult> rows);
// Per kernel, size and parameter: scalar time / variant time for every variant
// timed beside a "scalar" reference in the same run (the NEON-vs-scalar or
// AVX2-vs-scalar view). Rows without a scalar sibling (codec groups) are left out.
void print_speedup_table(std::ostream& os, std::span<const BenchResult> rows);
// Throws std::runtime_error if the file cannot be written.
void write_json(const std::string& path, std::span<const BenchResult> rows, const std::string& best_variant);

}  // namespace signfed::bench
