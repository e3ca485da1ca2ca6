#pragma once
// Stand-in for a CUDA toolkit header that cuBLAS/cuDNN headers include; only what tests/check_headers.sh needs.
struct __nv_bfloat16 { unsigned short x; }; struct __nv_bfloat162 { unsigned short x, y; };
