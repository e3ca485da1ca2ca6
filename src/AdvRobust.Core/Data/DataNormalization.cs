namespace AdvRobust.Core.Data;

/// <summary>The per-channel mean and std a model's normalization layer uses when nothing else says.</summary>
public static class DataNormalization
{
    /// <summary>CIFAR-10's statistics for three channels, Fashion-MNIST's for one.</summary>
    public static (float[] Mean, float[] Std) Default(LabeledImages images) => images.C == 3
        ? ([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f])
        : ([0.2860f], [0.3530f]);
}
