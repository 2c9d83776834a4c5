// Package editflow implements Edit Flows (Havasi et al., 2025): diffusion of
// text by insertion, deletion and substitution, so that the length of the
// output is not fixed in advance.
//
// # The process
//
// MDLM works on a fixed canvas: every position starts as a mask and is
// filled once. Edit Flows is a continuous-time Markov chain over sequences
// of any length whose transitions are single edits. At time t ∈ [0, 1] and
// for a sequence x of n tokens the model predicts, at every row i,
//
//   - λ_sub(i), the rate of substituting x_i, and Q_sub(·|i), the token put
//     in its place;
//   - λ_del(i), the rate of deleting x_i;
//   - λ_ins(i), the rate of inserting a token right after x_i, and
//     Q_ins(·|i), that token.
//
// In a short time h the edit "substitute x_i by v" happens with probability
// about h·λ_sub(i)·Q_sub(v|i), and likewise for the others. Row 0 holds the
// BOS token (or the first prompt token), the anchor that lets a token be
// inserted at the front.
//
// # Training: an aligned path from x0 to x1
//
// A data sequence x1 is reached from a source x0 (here the prompt followed
// by a run of [MASK], or nothing). Align lays the two side by side with
// blanks (Blank) at the gaps: a Needleman–Wunsch alignment at unit cost,
// whose ties the reference breaks toward diagonal, then up, then left, which
// pushes gaps to the front. The aligned pair (z0, z1) has equal length, and
// the forward process interpolates column by column: at time t each column
// of z_t is z1's with probability κ(t), else z0's, for a schedule κ rising
// from 0 to 1 (Kappa). Dropping the blanks of z_t gives the model's input
// x_t; the columns where z_t and z1 still differ are the edits that remain
// (Edits), each landing on a row of x_t.
//
// The loss is the negative evidence bound of the CTMC along that path. With
// w(t) = κ'(t)/(1−κ(t)) (the rate at which a remaining edit happens), the
// model's true rates are w·λ̂ and
//
//	loss = w · Σ_rows (λ̂_sub + λ̂_del + λ̂_ins)                  (no edit happened elsewhere)
//	     − w · Σ_remaining edits [log λ̂_kind(row) + log Q_kind(token|row)]
//
// (the constant log w of the second sum is dropped). The reference clamps w
// at 20, floors the rates at 1e-12 inside the logarithms, and divides each
// row's loss by the length of its x1 before averaging the rows (Loss).
//
// # Sampling: tau-leaping
//
// Sample starts from the prompt followed by a run of masks and walks t from
// 0 in steps of τ. At each step every row fires a substitution or deletion
// with probability (λ_sub+λ_del)·τ (chosen between them in proportion to
// their rates), and independently an insertion with probability λ_ins·τ,
// with the rates of the linear schedule's w(t) = 1/(1−t). All the edits of a
// step read the same model output and are applied at once (Apply). Prompt
// rows are frozen; inserting right after the prompt's last row is allowed.
//
// # The heads
//
// New puts Heads on any Backbone (an lm.Model that shows its output
// projection): two token heads that start as copies of that projection and
// a three-way rate head with a softplus. The heads read the backbone's
// hidden states from Forward with NoLogits or, where the backbone is a
// Featurer, from its EditFeatures (ModernBERT's heads read the masked-LM
// head's transform of the last layer, before the final norm, as the
// reference's do). A backbone whose Spec says ShiftLogits (Dream, A2D)
// takes row i's substitution and deletion outputs from position i−1. The
// model ignores t, as the reference's backbones do.
//
// Such a model is an lm.Model, so the trainer runs it with Objective like
// any other; its Save writes the heads into the backbone's weights file and
// marks config.json (ConfigKey), and Wrap gives a marked folder its heads
// back when it is opened.
package editflow
