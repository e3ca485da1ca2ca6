namespace AdvRobust.Benchmarks.Support;

/// <summary>The devices a benchmark shape runs on. GPU shapes are often too big for a short CPU run, so each shape
/// says where it belongs and <see cref="ShapeFilter"/> drops the other device's cases.</summary>
[Flags]
public enum Targets
{
    Cpu = 1,
    Cuda = 2,
    Both = Cpu | Cuda,
}

/// <summary>A shape parameter (a [ParamsSource] value) that names the devices it runs on.</summary>
public interface IShape
{
    Targets Targets { get; }
}
