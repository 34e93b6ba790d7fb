"""Where a network runs (`backends`: PyTorch or ONNX Runtime), its export (`export`) and the fused bidirectional RNN
the export uses (`fused_rnn`)."""
