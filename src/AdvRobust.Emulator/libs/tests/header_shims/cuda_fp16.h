#pragma once
// Stand-in for a CUDA toolkit header that cuBLAS/cuDNN headers include; only what tests/check_headers.sh needs.
struct __half { unsigned short x; }; struct __half2 { unsigned short x, y; };
