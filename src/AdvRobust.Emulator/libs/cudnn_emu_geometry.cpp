// libadvrobust-emu-cudnn.so: the geometry of one convolution from its descriptors, with the checks cuDNN documents
// for cudnnGetConvolution2dForwardOutputDim and the convolution calls: output size
// 1 + (in + 2·pad − ((filter − 1)·dilation + 1)) / stride per spatial axis; input channels = filter channels × groups;
// output channels a multiple of groups; the dilated filter no larger than the padded input; matching data types.
#include "cudnn_emu.h"

namespace cudnn_emu {

cudnnStatus_t geometry(const char* fn, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                       const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, Geometry* out) {
    if (!is_live(x, Kind::Tensor) || !x->set) return fail(CUDNN_STATUS_BAD_PARAM, fn, "x: not a set tensor descriptor");
    if (!is_live(w, Kind::Filter) || !w->set) return fail(CUDNN_STATUS_BAD_PARAM, fn, "w: not a set filter descriptor");
    if (!is_live(conv, Kind::Conv) || !conv->set)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a set convolution descriptor");
    if (y != nullptr && (!is_live(y, Kind::Tensor) || !y->set))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "y: not a set tensor descriptor");
    if (x->type != w->type || (y != nullptr && y->type != x->type))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "x, w and y have different data types");
    if (x->type != CUDNN_DATA_FLOAT || conv->compute != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, fn, "the emulator runs float data with float compute only");
    const int groups = conv->groups;
    if (x->c != w->c * groups)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "x has %d channels but w has %d per group × %d groups", x->c, w->c,
                    groups);
    if (w->k % groups != 0)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "w's %d output channels are not a multiple of %d groups", w->k, groups);
    const int eff_r = (w->r - 1) * conv->dil_h + 1, eff_s = (w->s - 1) * conv->dil_w + 1;
    if (eff_r > x->h + 2 * conv->pad_h || eff_s > x->w + 2 * conv->pad_w)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "the dilated filter %d×%d is larger than the padded input %d×%d", eff_r,
                    eff_s, x->h + 2 * conv->pad_h, x->w + 2 * conv->pad_w);
    Geometry g{};
    g.n = x->n, g.c = x->c, g.h = x->h, g.w = x->w, g.k = w->k, g.r = w->r, g.s = w->s;
    g.p = (x->h + 2 * conv->pad_h - eff_r) / conv->u + 1;
    g.q = (x->w + 2 * conv->pad_w - eff_s) / conv->v + 1;
    g.groups = groups, g.cg = w->c, g.kg = w->k / groups;
    g.pad_h = conv->pad_h, g.pad_w = conv->pad_w, g.u = conv->u, g.v = conv->v;
    g.dil_h = conv->dil_h, g.dil_w = conv->dil_w, g.flip = conv->mode == CUDNN_CONVOLUTION;
    if (y != nullptr && (y->n != g.n || y->c != g.k || y->h != g.p || y->w != g.q))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "y is %d×%d×%d×%d but the convolution gives %d×%d×%d×%d", y->n, y->c,
                    y->h, y->w, g.n, g.k, g.p, g.q);
    *out = g;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace cudnn_emu
