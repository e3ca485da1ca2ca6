#pragma once
// Stand-in for a CUDA toolkit header that cuBLAS/cuDNN headers include; only what tests/check_headers.sh needs.
