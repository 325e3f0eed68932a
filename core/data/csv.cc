// CSV loader (contract in local_data.h): one sample per line, one label column,
// every other column a numeric feature.
//
// The whole (gunzipped) file is read into memory and parsed in place: a line
// at a time, fields split with quotes honoured, numbers by std::from_chars
// (locale-independent, exact round-trip). Errors carry "path:line: column C
// (name)" so a user can jump to the bad field.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/file_bytes.h"
#include "core/data/local_data.h"

namespace signfed::data {
namespace {

// Label columns looked for when the caller names none (issue 12: the names
// sklearn, pandas users and Kaggle files use most).
constexpr std::string_view kDefaultLabelNames[] = {"label", "target", "class"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class CsvReader {
 public:
  CsvReader(const std::string& path, std::string text) : path_(path), text_(std::move(text)) {}

  // Next raw line (without '\n' and a trailing '\r'); false at end of file.
  bool next_line(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const std::size_t end = std::min(text_.find('\n', pos_), text_.size());
    line = std::string_view(text_).substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++line_no_;
    return true;
  }

  // Next line that is not blank.
  bool next_record(std::string_view& line) {
    while (next_line(line))
      if (!trim(line).empty()) return true;
    return false;
  }

  std::size_t line_no() const { return line_no_; }

  std::string where() const { return path_ + ":" + std::to_string(line_no_); }

  // Splits `line` into fields (unquoted, trimmed) in `out`.
  void split(std::string_view line, std::vector<std::string>& out) const {
    out.clear();
    std::size_t i = 0;
    for (;;) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      std::string field;
      if (i < line.size() && line[i] == '"') {
        ++i;
        for (;;) {
          if (i >= line.size()) {
            throw DataError(where() + ": column " + std::to_string(out.size() + 1) +
                            ": unterminated quote — close it; a quoted field cannot span lines");
          }
          if (line[i] == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          field += line[i++];
        }
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i < line.size() && line[i] != ',') {
          throw DataError(where() + ": column " + std::to_string(out.size() + 1) +
                          ": text after a closing quote — quote the whole field");
        }
      } else {
        const std::size_t end = std::min(line.find(',', i), line.size());
        field = trim(line.substr(i, end - i));
        i = end;
      }
      out.push_back(std::move(field));
      if (i >= line.size()) return;
      ++i;  // the ','
    }
  }

 private:
  const std::string& path_;
  std::string text_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
};

std::string list_columns(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + ("'" + n + "'");
  return out;
}

// Index of the label column among `count` columns (names empty without a header).
std::size_t label_column(const std::string& path, const CsvOptions& o, const std::vector<std::string>& names,
                         std::size_t count) {
  if (!o.label.empty() && o.label[0] == '#') {
    long long k = 0;
    const char* first = o.label.data() + 1;
    const char* last = o.label.data() + o.label.size();
    const auto [ptr, ec] = std::from_chars(first, last, k);
    if (ec != std::errc{} || ptr != last) {
      throw DataError(path + ": label column '" + o.label + "' is not #N — use #0 for the first column, #-1 for the last");
    }
    const long long n = static_cast<long long>(count);
    if (k < -n || k >= n) {
      throw DataError(path + ": label column " + o.label + " is out of range: the file has " + std::to_string(count) +
                      " columns (#0..#" + std::to_string(count - 1) + ", or #-1 for the last)");
    }
    return static_cast<std::size_t>(k < 0 ? k + n : k);
  }
  if (!o.header) {
    throw DataError(path + ": without a header the label column must be given by position, e.g. #-1 for the last of " +
                    std::to_string(count) + " columns" + (o.label.empty() ? "" : " (got the name '" + o.label + "')"));
  }
  if (!o.label.empty()) {
    const auto hits = std::count(names.begin(), names.end(), o.label);
    if (hits == 0) {
      throw DataError(path + ": no label column '" + o.label + "'; the header has " + list_columns(names) +
                      " — pass one of them as the label column");
    }
    if (hits > 1) throw DataError(path + ": the header names '" + o.label + "' twice — rename one, or use #N");
    return static_cast<std::size_t>(std::find(names.begin(), names.end(), o.label) - names.begin());
  }
  std::vector<std::size_t> found;
  for (std::size_t c = 0; c < names.size(); ++c)
    if (std::find(std::begin(kDefaultLabelNames), std::end(kDefaultLabelNames), names[c]) != std::end(kDefaultLabelNames))
      found.push_back(c);
  if (found.empty()) {
    throw DataError(path + ": no column named 'label', 'target' or 'class'; the header has " + list_columns(names) +
                    " — name the label column (--label NAME, or #N by position)");
  }
  if (found.size() > 1) {
    std::vector<std::string> which;
    for (const std::size_t c : found) which.push_back(names[c]);
    throw DataError(path + ": several possible label columns (" + list_columns(which) +
                    ") — name the one to use (--label NAME)");
  }
  return found[0];
}

bool parse_float(std::string_view s, float& v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);  // from_chars takes no '+'
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
}

bool parse_label(std::string_view s, int& v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  CsvReader in(path, read_file_bytes(path));
  std::string_view line;
  for (std::size_t i = 0; i < options.skip_lines; ++i) {
    if (!in.next_line(line)) break;
  }
  std::vector<std::string> fields;
  std::vector<std::string> names;
  if (!in.next_record(line)) {
    throw DataError(path + ": empty file" + (options.skip_lines ? " after skipping " + std::to_string(options.skip_lines) + " lines" : "") +
                    " — expected " + (options.header ? "a header row, then " : "") + "one sample per line");
  }
  in.split(line, fields);
  const std::size_t count = fields.size();
  std::size_t first_line = in.line_no();  // the line whose field count the others must match
  bool have_row = true;
  if (options.header) {
    names = fields;
    have_row = in.next_record(line);
    if (!have_row) throw DataError(path + ": no data rows after the header — the file holds no samples");
    in.split(line, fields);
  }
  const std::size_t label = label_column(path, options, names, count);
  if (count < 2) throw DataError(path + ": only the label column, no feature column — a sample needs features");
  auto column_name = [&](std::size_t c) {
    return "column " + std::to_string(c + 1) + (names.empty() ? "" : " ('" + names[c] + "')");
  };

  Dataset ds;
  ds.cols = count - 1;
  int max_label = 0;
  do {
    if (fields.size() != count) {
      throw DataError(in.where() + ": " + std::to_string(fields.size()) + " fields, expected " + std::to_string(count) +
                      " as on line " + std::to_string(first_line) +
                      " — every row needs a value in every column (check for a stray or missing ',')");
    }
    for (std::size_t c = 0; c < count; ++c) {
      const std::string& f = fields[c];
      if (c == label) {
        int v = 0;
        if (!parse_label(f, v) || v < 0 || v > 255) {
          throw DataError(in.where() + ": " + column_name(c) + ": label '" + f +
                          "' is not an integer 0..255 — labels must be class numbers (map class names to 0, 1, ...)");
        }
        ds.labels.push_back(static_cast<std::uint8_t>(v));
        max_label = std::max(max_label, v);
        continue;
      }
      float v = 0.0F;
      if (f.empty()) {
        throw DataError(in.where() + ": " + column_name(c) + ": empty value — fill in or drop missing values first");
      }
      if (!parse_float(f, v)) {
        throw DataError(in.where() + ": " + column_name(c) + ": '" + f +
                        "' is not a number — features must be numeric (encode categories as numbers first)");
      }
      if (!std::isfinite(v)) {
        throw DataError(in.where() + ": " + column_name(c) + ": '" + f +
                        "' is not finite (or out of float range) — fill in or drop such values first");
      }
      ds.features.push_back(v);
    }
    ++ds.rows;
    have_row = in.next_record(line);
    if (have_row) in.split(line, fields);
  } while (have_row);
  ds.classes = static_cast<std::size_t>(max_label) + 1;
  return ds;
}

}  // namespace signfed::data
