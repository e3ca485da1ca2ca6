// optim.cu — fused optimizer updates: SGD with momentum, Nesterov and L2 weight decay, in place on the parameters.
//
// Math (PyTorch's torch.optim.SGD with dampening 0; lr, m, wd scalars): g = grad + wd·param; buf = m·buf + g;
//   param −= lr·(nesterov ? g + m·buf : buf). A zero-initialized buf makes the first step buf = g, as in PyTorch.
//   No backward: an optimizer step is not differentiated. A non-null lr_device is read for lr (one float in device
//   memory, written before each step), so a captured update replays with each step's learning rate.
// Layout: param, grad, momentum (buf): flat float32[n], same length; param and buf are updated in place.
// Launch: 1-D grid-stride, blockDim 256, grid = min(ceil_div(n, 256), 32·SMs).
// Traffic per element: reads param, grad, buf (3 floats), writes param, buf (2 floats) = 20 B.
#include "common.cuh"

// ---- kernels ----
extern "C" __global__ void sgd_step_f32(float* __restrict__ param, const float* __restrict__ grad,
    float* __restrict__ momentum, float lr, float mom, float wd, int nesterov, long long n,
    const float* __restrict__ lr_device)
{
    if (lr_device != nullptr) lr = *lr_device;
    for (long long i = grid_start(); i < n; i += grid_stride())
    {
        const float p = param[i];
        const float g = grad[i] + wd * p;
        const float buf = mom * momentum[i] + g;
        momentum[i] = buf;
        param[i] = p - lr * (nesterov ? g + mom * buf : buf);
    }
}
