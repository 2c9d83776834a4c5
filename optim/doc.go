// Package optim updates parameters from their gradients: AdamW with decoupled
// weight decay, learning-rate schedules, global-norm gradient clipping, and
// saving and restoring the optimizer's state so a run can resume exactly.
package optim
