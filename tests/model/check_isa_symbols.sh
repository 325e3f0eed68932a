#!/usr/bin/env bash
# The ODR guard of core/model/kernels/dense_eigen.inc, checked on the objects:
# every weak (COMDAT) symbol an ISA-specific file (dense_avx2, dense_avx512)
# defines must name that file's own renamed Eigen namespace (in its scope or
# its template arguments: then its mangled name exists in no other file), so
# the linker can never resolve another file's call to code compiled for a
# wider ISA, nor this file's call to baseline code.
# Usage: check_isa_symbols.sh <nm> <object files of signfed_model...>
set -euo pipefail
nm=$1
shift
status=0
checked=0
for obj in "$@"; do
  case $(basename "$obj") in
    dense_avx2.cc.o) ns=signfed_eigen_avx2 ;;
    dense_avx512.cc.o) ns=signfed_eigen_avx512 ;;
    *) continue ;;
  esac
  checked=$((checked + 1))
  # Weak definitions (W, V; u: unique global), demangled. DW.ref.__gxx_personality_v0
  # is a pointer to the C++ runtime's personality routine: data, the same in every file.
  weak=$("$nm" -C --defined-only "$obj" | awk '$2 ~ /^[WVu]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }')
  total=$(printf '%s\n' "$weak" | grep -c . || true)
  stray=$(printf '%s\n' "$weak" | grep -v -e "$ns::" -e "^DW.ref.__gxx_personality_v0\$" | grep . || true)
  if [[ -n $stray ]]; then
    echo "$(basename "$obj"): weak symbols not naming $ns:: (the linker may share them with baseline code):"
    printf '  %s\n' "$stray" | head -n 20
    status=1
  else
    echo "$(basename "$obj"): $total weak symbols, all naming $ns:: (or the personality pointer)"
  fi
done
if [[ $checked -ne 2 ]]; then
  echo "expected dense_avx2.cc.o and dense_avx512.cc.o among the objects, found $checked"
  exit 1
fi
exit $status
