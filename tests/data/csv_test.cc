#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/local_data.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using namespace signfed::data::testing;  // TempDir, write_text, data_error_of

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Writes text to dir/name and loads it with options.
Dataset csv(const TempDir& dir, const std::string& text, const CsvOptions& o = {}, const std::string& name = "d.csv") {
  write_text(dir.file(name), text);
  return load_csv(dir.file(name), o);
}

std::string csv_error(const TempDir& dir, const std::string& text, const CsvOptions& o = {}) {
  write_text(dir.file("bad.csv"), text);
  return data_error_of([&] { load_csv(dir.file("bad.csv"), o); });
}

}  // namespace

TEST_CASE("csv: header, label column anywhere, features in file order, plain and gzip") {
  TempDir dir;
  const std::string text = "a,label,b\n1,3,2.5\n-1e2,0, 4 \n+0.125,1,-0\n";
  for (const bool gz : {false, true}) {
    CAPTURE(gz);
    write_text(dir.file("d.csv.gz"), text, gz);  // content decides: a plain file named .gz reads too
    const Dataset ds = load_csv(dir.file("d.csv.gz"));
    CHECK(ds.rows == 3);
    CHECK(ds.cols == 2);
    CHECK(ds.classes == 4);
    CHECK(ds.sample_shape.empty());
    CHECK(ds.features == std::vector<float>{1.0F, 2.5F, -100.0F, 4.0F, 0.125F, -0.0F});
    CHECK(ds.labels == std::vector<std::uint8_t>{3, 0, 1});
  }
}

TEST_CASE("csv: quoted header and numbers, CRLF, blank lines") {
  TempDir dir;
  const Dataset ds = csv(dir, "\"x, first\",\"say \"\"hi\"\"\", \"class\"\r\n\r\n\"1.5\",2,\"7\"\r\n  \r\n3,4,0\r\n\r\n");
  CHECK(ds.rows == 2);
  CHECK(ds.cols == 2);
  CHECK(ds.classes == 8);
  CHECK(ds.features == std::vector<float>{1.5F, 2.0F, 3.0F, 4.0F});
  CHECK(ds.labels == std::vector<std::uint8_t>{7, 0});
}

TEST_CASE("csv: choosing the label column") {
  TempDir dir;
  SUBCASE("default: target") { CHECK(csv(dir, "f,target\n1,2\n").labels == std::vector<std::uint8_t>{2}); }
  SUBCASE("default: class") { CHECK(csv(dir, "class,f\n5,2\n").labels == std::vector<std::uint8_t>{5}); }
  SUBCASE("by name") {
    const Dataset ds = csv(dir, "y,label\n1,2\n", {.label = "y"});
    CHECK(ds.labels == std::vector<std::uint8_t>{1});
    CHECK(ds.features == std::vector<float>{2.0F});  // 'label' is an ordinary feature here
  }
  SUBCASE("by position, header present") {
    CHECK(csv(dir, "p,q,r\n1,2,3\n", {.label = "#0"}).labels == std::vector<std::uint8_t>{1});
    CHECK(csv(dir, "p,q,r\n1,2,3\n", {.label = "#-1"}).labels == std::vector<std::uint8_t>{3});
    CHECK(csv(dir, "p,q,r\n1,2,3\n", {.label = "#-2"}).labels == std::vector<std::uint8_t>{2});
  }
  SUBCASE("no header, skipped first line") {
    const Dataset ds = csv(dir, "2,3,x,y\n1,2,3\n4,5,6\n", {.label = "#2", .header = false, .skip_lines = 1});
    CHECK(ds.rows == 2);
    CHECK(ds.features == std::vector<float>{1, 2, 4, 5});
    CHECK(ds.labels == std::vector<std::uint8_t>{3, 6});
  }
}

TEST_CASE("csv: errors name file, line and column and say what to do") {
  TempDir dir;
  const std::string bad = dir.file("bad.csv");
  SUBCASE("non-numeric feature") {
    const std::string e = csv_error(dir, "a,b,label\n1,2,0\n3,abc,1\n");
    CHECK(contains(e, bad + ":3: column 2 ('b'): 'abc' is not a number"));
    CHECK(contains(e, "encode categories as numbers"));
  }
  SUBCASE("wrong field count") {
    const std::string e = csv_error(dir, "a,b,label\n1,2,0\n1,2\n");
    CHECK(contains(e, bad + ":3: 2 fields, expected 3 as on line 1"));
  }
  SUBCASE("missing named label column lists the header") {
    const std::string e = csv_error(dir, "a,\"b\",y\n1,2,0\n", {.label = "kind"});
    CHECK(contains(e, "no label column 'kind'; the header has 'a', 'b', 'y'"));
  }
  SUBCASE("the header list shows quoted names unquoted") {
    CHECK(contains(csv_error(dir, "\"a \"\"q\"\", b\",y\n1,2\n"), "the header has 'a \"q\", b', 'y'"));
  }
  SUBCASE("no default label column lists the header") {
    const std::string e = csv_error(dir, "a,b,y\n1,2,0\n");
    CHECK(contains(e, bad + ": no column named 'label', 'target' or 'class'; the header has 'a', 'b', 'y'"));
    CHECK(contains(e, "--label NAME"));
  }
  SUBCASE("several default label columns") {
    CHECK(contains(csv_error(dir, "label,class,a\n1,2,0\n"), "several possible label columns ('label', 'class')"));
  }
  SUBCASE("duplicate label name") {
    CHECK(contains(csv_error(dir, "y,y\n1,2\n", {.label = "y"}), "names 'y' twice"));
  }
  SUBCASE("empty file") {
    CHECK(contains(csv_error(dir, ""), bad + ": empty file — expected a header row, then one sample per line"));
    CHECK(contains(csv_error(dir, "\n  \n"), bad + ": empty file"));
    CHECK(contains(csv_error(dir, "569,30\n", {.label = "#0", .header = false, .skip_lines = 1}),
                   "empty file after skipping 1 lines"));
  }
  SUBCASE("header only") { CHECK(contains(csv_error(dir, "a,label\n"), "no data rows after the header")); }
  SUBCASE("labels must be integers 0..255") {
    for (const char* label : {"3.0", "x", "256", "-1", "1e1", ""}) {
      CAPTURE(label);
      const std::string e = csv_error(dir, std::string("a,label\n1,0\n2,") + label + "\n");
      CHECK(contains(e, bad + ":3: column 2 ('label'): label '" + label + "' is not an integer 0..255"));
    }
  }
  SUBCASE("missing and non-finite values") {
    CHECK(contains(csv_error(dir, "a,b,label\n1,,0\n"), ":2: column 2 ('b'): empty value — fill in or drop"));
    CHECK(contains(csv_error(dir, "a,label\nnan,0\n"), ":2: column 1 ('a'): 'nan' is not finite"));
    CHECK(contains(csv_error(dir, "a,label\n-inf,0\n"), "'-inf' is not finite"));
  }
  SUBCASE("quotes") {
    CHECK(contains(csv_error(dir, "a,label\n\"1,0\n"), ":2: column 1: unterminated quote"));
    CHECK(contains(csv_error(dir, "a,label\n\"1\"x,0\n"), ":2: column 1: text after a closing quote"));
  }
  SUBCASE("label column by position") {
    CHECK(contains(csv_error(dir, "1,2\n", {.label = "#2", .header = false}),
                   "label column #2 is out of range: the file has 2 columns (#0..#1"));
    CHECK(contains(csv_error(dir, "1,2\n", {.label = "#x", .header = false}), "label column '#x' is not #N"));
    CHECK(contains(csv_error(dir, "1,2\n", {.header = false}), "without a header the label column must be given by position"));
    CHECK(contains(csv_error(dir, "1,2\n", {.label = "y", .header = false}), "(got the name 'y')"));
  }
  SUBCASE("no feature column") { CHECK(contains(csv_error(dir, "label\n1\n"), "only the label column, no feature column")); }
  SUBCASE("missing file") {
    CHECK(contains(data_error_of([&] { load_csv(dir.file("none.csv")); }),
                   "cannot open " + dir.file("none.csv") + ": No such file or directory"));
  }
}
