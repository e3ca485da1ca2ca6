namespace AdvRobust.Core;

public enum UnaryOp { Neg, Abs, Sign, Relu, Exp, Log, Sqrt, Square, Tanh, Sigmoid }

public enum BinaryOp { Add, Sub, Mul, Div, Max, Min }

/// <summary>Reductions over the last axis. SumSquares is the squared L2 norm of each row.</summary>
public enum ReduceOp { Sum, Max, Min, SumSquares }

/// <summary>
/// Distances between rows u, v (D features). Norms are clamped: |u|e = max(|u|, 1e-8), so a zero row has cosine 0.
/// SquaredEuclidean: sum (u_k - v_k)^2, never negative (the CPU reference sums it directly in double; the GPU forms
/// max(|u|^2 + |v|^2 - 2 u.v, 0) from a GEMM).  Euclidean: its square root.
/// Cosine: the similarity u.v / (|u|e |v|e).  Angular (TLA, Mao et al. 2019): 1 - |cosine|.
/// </summary>
public enum DistanceKind { SquaredEuclidean, Euclidean, Cosine, Angular }

public enum PgdNorm { Linf, L2 }

/// <summary>
/// BatchHard: per anchor the farthest same-class and the nearest other-class pool row (TLA's hardest negative
/// when the pool is a set of clean samples). SemiHard: the hardest positive as in BatchHard, and the nearest
/// negative farther than it (FaceNet); where none is farther, the farthest negative (TensorFlow Addons' rule).
/// Ties go to the lowest pool index, so CPU and GPU agree.
/// </summary>
public enum MiningKind { BatchHard, SemiHard }

/// <summary>Step size, radius and box of a PGD step. Attacks work in pixel space, so the box is [0, 1] by default.</summary>
public readonly record struct PgdParams(float Alpha, float Eps, float Lo = 0f, float Hi = 1f);

/// <summary>
/// ExcludeSelf: anchors and pool are the same rows (N == M), so pool row i is never anchor i's positive.
/// </summary>
public readonly record struct MiningParams(MiningKind Kind, DistanceKind Distance, bool ExcludeSelf = false);
