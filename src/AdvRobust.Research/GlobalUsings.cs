// The engine's namespaces every research file builds on (it moved out of AdvRobust.Core, where these were in scope).
global using AdvRobust.Core;
global using AdvRobust.Core.Tensors;
global using AdvRobust.Core.Nn;
