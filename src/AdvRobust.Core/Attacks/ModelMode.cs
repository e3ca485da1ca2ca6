using AdvRobust.Core.Nn;

namespace AdvRobust.Core.Attacks;

/// <summary>Puts a model in eval mode for an attack (unless told to keep training mode), then restores it.</summary>
public readonly struct ModelMode : IDisposable
{
    private readonly Module _model;
    private readonly bool _wasTraining;

    public ModelMode(Module model, bool keepTrainingMode)
    {
        _model = model;
        _wasTraining = model.Training;
        if (!keepTrainingMode) model.Eval();
    }

    public void Dispose()
    {
        if (_wasTraining) _model.Train();
        else _model.Eval();
    }
}
