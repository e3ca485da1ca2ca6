# The PyTorch side of the `build.ps1 bench --peer` rows that ../shared/bench/torch_peer_cpu.py lacks (issue 14):
#   CIFAR ResNet-18 in eval mode, one forward pass + the input gradient of the summed cross-entropy (one attack step
#   without the update), batch 8 and 32: ResNetGradientBenchmarks.ForwardInputGradient;
#   batch-hard mining with the angular distance 1 - |cos|, N = 1024, D = 512, for context beside
#   TripletMiningBenchmarks.BatchHard (PyTorch has no fused miner: normalize, one matmul, masked max/min).
# The model is the engine's "resnet18" (src/AdvRobust.Core/Nn/Models/ResNet18.cs, kuangliu/pytorch-cifar): input
# normalization with the CIFAR mean/std, 3x3 stem conv (stride 1, no bias) + BN + ReLU, no max-pool, four stages of two
# basic blocks (widths 64..512, strides 1, 2, 2, 2; 1x1 conv + BN shortcut where the shape changes), global average
# pooling, linear 512 -> 10 with bias. Timing: torch.set_num_threads(2), 2 warm-up calls, median of REPS calls.
# Prints "torch: VERSION", "threads: N", "BLAS: LIBRARY" and one "NAME: VALUE ms" line per workload.
# Run: /usr/bin/python3 benchmarks/peer/torch_peer_extra.py   (Debian: apt-get install python3-torch libopenblas0-pthread)
import os, statistics, time, torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(2); torch.manual_seed(0)
REPS = 5

class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            s.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(s, x):
        h = F.relu(s.bn1(s.conv1(x)))
        return F.relu(s.bn2(s.conv2(h)) + s.shortcut(x))

class ResNet18(nn.Module):
    def __init__(s, classes=10, width=64):
        super().__init__()
        s.register_buffer("mean", torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1))
        s.register_buffer("std", torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1))
        s.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage in range(4):
            cout = width << stage
            layers += [Block(cin, cout, 1 if stage == 0 else 2), Block(cout, cout, 1)]; cin = cout
        s.layers = nn.Sequential(*layers)
        s.linear = nn.Linear(cin, classes)
    def forward(s, x):
        h = F.relu(s.bn1(s.conv1((x - s.mean) / s.std)))
        return s.linear(F.adaptive_avg_pool2d(s.layers(h), 1).flatten(1))

def median_ms(fn, warmup=2, reps=REPS):
    for _ in range(warmup): fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3

def blas():
    """The BLAS library this process loaded (Debian's alternatives pick it), e.g. OpenBLAS pthread or the reference."""
    a = torch.rand(64, 64); a @ a
    try:
        paths = {l.split()[-1] for l in open("/proc/self/maps") if "/" in l}
    except OSError:
        return "unknown (no /proc/self/maps)"
    names = sorted(p for p in paths if "blas" in os.path.basename(p).lower())
    openblas = [p for p in names if "openblas" in os.path.basename(p).lower()]
    return ", ".join(openblas or names) or "unknown"

print(f"torch: {torch.__version__}"); print(f"threads: {torch.get_num_threads()}"); print(f"BLAS: {blas()}", flush=True)

model = ResNet18().eval()
for p in model.parameters(): p.requires_grad_(False)
for b in (8, 32):
    x = torch.rand(b, 3, 32, 32); y = torch.randint(0, 10, (b,))
    def step():
        xi = x.clone().requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(model(xi), y, reduction="sum"), xi)
        return g
    print(f"ResNet-18 forward + input gradient B={b}: {median_ms(step):.1f} ms", flush=True)

E = torch.rand(1024, 512) * 2 - 1; labels = torch.randint(0, 10, (1024,))
def mine():
    u = F.normalize(E, dim=1); d = 1 - (u @ u.T).abs()
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(E), dtype=torch.bool)
    hardest_pos = d.masked_fill(~same | eye, float("-inf")).max(1)
    hardest_neg = d.masked_fill(same, float("inf")).min(1)
    return hardest_pos.indices, hardest_neg.indices
print(f"batch-hard mining 1024x512: {median_ms(mine):.1f} ms", flush=True)
