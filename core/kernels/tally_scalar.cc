// Scalar reference of the mean's accumulation: one term at a time.
#include "core/kernels/internal/tally_term.h"
#include "core/kernels/internal/tally_ukernels.h"

namespace signfed::kernels {

void mean_add_f32__scalar(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                          std::int64_t* l2) {
  tally_detail::mean_add_tail(x, wf, 0, n, l0, l1, l2);
}

}  // namespace signfed::kernels
