// The npz form of a signfed model (docs/export.md, "npz layout"): a zip of
// .npy files (format 1.0, little-endian, C order), as numpy.savez writes:
//   <layer>.weight, <layer>.bias  float32 in signfed's layout (layer_plan.h)
//   input_mean, input_std         float32 [1] (or [input_size]); 0 and 1 when
//                                 the run did not standardise
//   architecture                  0-d unicode string: JSON {"input": [...],
//                                 "layers": [{"kind": ..., ...}], "loss": ...}
//   metadata                      0-d unicode string: JSON of where it came from
// Written with libzip (deflate); numpy.load reads it without allow_pickle.
#include <zip.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <memory>
#include <span>

#include "tools/export/export_model.h"

namespace signfed::exporter {
namespace {

static_assert(std::endian::native == std::endian::little, "npy data is written little-endian");

using model::LayerKind;

// One .npy file in memory: header (padded to 64 bytes) then the data.
std::string npy(const char* descr, const std::vector<std::size_t>& shape, const void* data, std::size_t bytes) {
  std::string dims;
  for (std::size_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();  // () for none, (n,) for one dimension, (a,b) for more
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string out = {'\x93', 'N', 'U', 'M', 'P', 'Y', '\x01', '\x00', static_cast<char>(header.size() & 0xff),
                     static_cast<char>(header.size() >> 8)};
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

std::string npy_floats(const std::vector<std::size_t>& shape, std::span<const float> v) {
  return npy("<f4", shape, v.data(), v.size_bytes());
}

// A 0-d numpy str (UTF-32LE, '<U n'); the text is ASCII JSON.
std::string npy_text(const std::string& ascii) {
  std::vector<char32_t> u(ascii.begin(), ascii.end());
  return npy(fmt::format("<U{}", std::max<std::size_t>(u.size(), 1)).c_str(), {}, u.data(),
             u.size() * sizeof(char32_t));
}

nlohmann::json architecture(const ExportModel& m) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerStep& s : m.plan.steps) {
    const model::LayerSpec& l = s.spec;
    nlohmann::json j = {{"kind", model::layer_kind_name(l.kind)}};
    switch (l.kind) {
      case LayerKind::dense: j["units"] = l.units; break;
      case LayerKind::conv1d:
      case LayerKind::conv2d:
        j["filters"] = l.filters;
        j["kernel"] = l.kernel;
        j["stride"] = l.stride;
        j["padding"] = l.padding;
        break;
      case LayerKind::max_pool1d:
      case LayerKind::max_pool2d:
      case LayerKind::avg_pool1d:
      case LayerKind::avg_pool2d:
        j["size"] = l.size;
        j["stride"] = l.stride;
        break;
      case LayerKind::dropout: j["rate"] = l.rate; break;
      default: break;
    }
    if (!s.params.empty()) j["name"] = s.name;
    layers.push_back(std::move(j));
  }
  return {{"input", m.plan.input}, {"layers", layers}, {"loss", model::loss_name(m.spec.loss)}};
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

}  // namespace

void write_npz(const ExportModel& m, const std::string& path) {
  // Every entry's bytes; libzip reads them only in zip_close, so they live until then.
  std::vector<std::pair<std::string, std::string>> entries;
  for (const LayerStep& s : m.plan.steps)
    for (const ParamTensor& t : s.params)
      entries.emplace_back(t.name, npy_floats(t.shape, std::span<const float>(m.params).subspan(t.offset, t.size())));
  const std::vector<float> zero{0.0f}, one{1.0f};
  const std::vector<float>& mean = m.input.enabled() ? m.input.mean : zero;
  const std::vector<float>& sd = m.input.enabled() ? m.input.std : one;
  entries.emplace_back("input_mean", npy_floats({mean.size()}, mean));
  entries.emplace_back("input_std", npy_floats({sd.size()}, sd));
  entries.emplace_back("architecture", npy_text(architecture(m).dump()));
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : m.metadata) meta[k] = v;
  entries.emplace_back("metadata", npy_text(meta.dump()));

  const auto fail = [&](const std::string& why) {
    return ExportError(fmt::format("cannot write {}: {} (check the directory exists, is writable and has space)", path, why));
  };
  int err = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err));
  if (!z) {
    zip_error_t e;
    zip_error_init_with_code(&e, err);
    const std::string why = zip_error_strerror(&e);
    zip_error_fini(&e);
    throw fail(why);
  }
  for (const auto& [name, bytes] : entries) {
    zip_source_t* src = zip_source_buffer(z.get(), bytes.data(), bytes.size(), 0);
    if (!src || zip_file_add(z.get(), (name + ".npy").c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
      if (src) zip_source_free(src);
      throw fail(zip_strerror(z.get()));
    }
  }
  // zip_close writes a temporary file beside path and renames it: errors show here.
  if (zip_close(z.get()) < 0) throw fail(zip_strerror(z.get()));
  (void)z.release();  // closed
}

}  // namespace signfed::exporter
