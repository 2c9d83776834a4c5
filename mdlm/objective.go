package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
)

// Weighting selects the per-token weight of the cross-entropy.
type Weighting int

const (
	// WeightSchedule is the ELBO weight -α'(t)/(1-α(t)) (1/t for linear).
	WeightSchedule Weighting = iota
	// WeightUniform weights every masked token by 1.
	WeightUniform
	// WeightCART is Dream's context-adaptive weight (CART): a masked token
	// at i weighs Σ_{j≠i, j not masked} g(|i−j|) over every position j of
	// its row (prompt and padding count as context), with the geometric
	// g(n) = ½·p·(1−p)^(n−1), p = ObjectiveOptions.CARTP. t is not used.
	WeightCART
)

// DefaultCARTP is the p of Dream's default loss_weight_type "cart[geo_p:0.3]".
const DefaultCARTP = 0.3

// Normalization selects what the weighted sum is divided by.
type Normalization int

const (
	// NormTokens divides by the number of supervised tokens in the batch.
	NormTokens Normalization = iota
	// NormSequences divides each row by its own number of supervised tokens
	// and averages over the rows (LLaDA's SFT loss).
	NormSequences
	// NormBatch divides by the number of rows only.
	NormBatch
)

// String returns the CLI spelling.
func (w Weighting) String() string {
	switch w {
	case WeightSchedule:
		return "schedule"
	case WeightUniform:
		return "uniform"
	case WeightCART:
		return "cart"
	}
	return fmt.Sprintf("Weighting(%d)", int(w))
}

// String returns the CLI spelling.
func (n Normalization) String() string {
	switch n {
	case NormTokens:
		return "token"
	case NormSequences:
		return "sequence"
	case NormBatch:
		return "batch"
	}
	return fmt.Sprintf("Normalization(%d)", int(n))
}

// ParseWeighting reads "schedule", "uniform" or "cart".
func ParseWeighting(name string) (Weighting, error) {
	for _, w := range []Weighting{WeightSchedule, WeightUniform, WeightCART} {
		if name == w.String() {
			return w, nil
		}
	}
	return 0, fmt.Errorf("mdlm: unknown loss weighting %q (want schedule, uniform or cart)", name)
}

// ParseNormalization reads "token", "sequence" or "batch".
func ParseNormalization(name string) (Normalization, error) {
	for _, n := range []Normalization{NormTokens, NormSequences, NormBatch} {
		if name == n.String() {
			return n, nil
		}
	}
	return 0, fmt.Errorf("mdlm: unknown loss normalization %q (want token, sequence or batch)", name)
}

// ObjectiveOptions configures Corrupt. The zero value plus MaskID is the
// BERT-chat recipe: linear schedule, eps 1e-3, independent times, 1/t
// weights, normalised by supervised tokens.
type ObjectiveOptions struct {
	MaskID    int32
	Schedule  Schedule // nil: Linear
	Eps       float64  // 0: DefaultEps
	Times     TimeSampling
	Weighting Weighting
	// CARTP is the geometric p of WeightCART; 0 means DefaultCARTP.
	CARTP         float64
	Normalization Normalization
	// FixedTimes, when not nil, gives each row's t instead of drawing it
	// (evaluation at chosen noise levels). Each must lie in (0, 1].
	FixedTimes []float64
}

// Corruption is one draw of the forward process for a batch: what the model
// reads, and which of its outputs the loss needs.
type Corruption struct {
	// Noisy is the model input: Batch.InputIDs with the chosen tokens replaced by
	// the mask id.
	Noisy []int32
	// Rows are the flat positions (b*SeqLen + s), increasing, of the masked
	// supervised tokens: the only rows whose logits the loss needs.
	Rows []int32
	// Targets are the clean labels at Rows.
	Targets []int32
	// Weights are the per-row loss weights, time weighting and normalisation
	// included: loss = Σ_i Weights[i]·CE_i.
	Weights []float64
	// T holds each sequence's diffusion time.
	T []float64
	// Supervised counts the supervised positions of the batch (the
	// denominator of NormTokens).
	Supervised int
}

// Corrupt runs the forward process on a batch: it draws one t per row and
// masks each supervised, non-prompt token with probability 1-α(t). A row may
// come out with nothing masked (small t); it then adds nothing to the loss,
// and a batch can have no rows at all, whose loss is 0.
func Corrupt(b data.Batch, opts ObjectiveOptions, rng *rand.Rand) (*Corruption, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("mdlm: %w", err)
	}
	sched := opts.Schedule
	if sched == nil {
		sched = Linear{}
	}
	eps := opts.Eps
	if eps == 0 {
		eps = DefaultEps
	}
	if !(eps > 0 && eps < 1) {
		return nil, fmt.Errorf("mdlm: eps %v outside (0, 1)", eps)
	}
	times := opts.FixedTimes
	if times == nil {
		times = SampleTimes(b.B, eps, opts.Times, rng)
	} else {
		if len(times) != b.B {
			return nil, fmt.Errorf("mdlm: %d fixed times for %d rows", len(times), b.B)
		}
		for _, t := range times {
			if !(t > 0 && t <= 1) {
				return nil, fmt.Errorf("mdlm: fixed time %v outside (0, 1]", t)
			}
		}
		times = append([]float64(nil), times...)
	}

	// Count supervision first: the normalisation needs it before any weight
	// is written.
	perRow := make([]int, b.B)
	total := 0
	for r := range b.B {
		for s := b.PromptLen(r); s < b.S; s++ {
			if b.Label(r, s) != data.IgnoreIndex {
				perRow[r]++
			}
		}
		total += perRow[r]
	}

	c := &Corruption{Noisy: append([]int32(nil), b.InputIDs...), T: times, Supervised: total}
	for r := range b.B {
		if perRow[r] == 0 {
			continue
		}
		t := times[r]
		w := 1.0
		if opts.Weighting == WeightSchedule {
			w = sched.Weight(t)
		}
		switch opts.Normalization {
		case NormTokens:
			w /= float64(total)
		case NormSequences:
			w /= float64(perRow[r]) * float64(b.B)
		case NormBatch:
			w /= float64(b.B)
		default:
			return nil, fmt.Errorf("mdlm: unknown normalization %d", opts.Normalization)
		}
		p := maskProb(sched, t)
		first := len(c.Rows)
		for s := b.PromptLen(r); s < b.S; s++ {
			label := b.Label(r, s)
			if label == data.IgnoreIndex || rng.Float64() >= p {
				continue
			}
			flat := r*b.S + s
			c.Noisy[flat] = opts.MaskID
			c.Rows = append(c.Rows, int32(flat))
			c.Targets = append(c.Targets, label)
			c.Weights = append(c.Weights, w)
		}
		if opts.Weighting == WeightCART {
			masked := make([]bool, b.S)
			for _, flat := range c.Rows[first:] {
				masked[int(flat)-r*b.S] = true
			}
			cp := opts.CARTP
			if cp == 0 {
				cp = DefaultCARTP
			}
			cart := CARTWeights(masked, cp)
			for i, flat := range c.Rows[first:] {
				c.Weights[first+i] *= cart[int(flat)-r*b.S]
			}
		}
	}
	return c, nil
}

// CARTWeights are Dream's CART weights of one row: at each masked position
// i, Σ_{j≠i, !masked[j]} ½·p·(1−p)^(|i−j|−1); 0 at the others.
func CARTWeights(masked []bool, p float64) []float64 {
	n := len(masked)
	g := make([]float64, n) // g[k] = ½·p·(1−p)^(k−1), k ≥ 1
	for k := 1; k < n; k++ {
		g[k] = 0.5 * p * math.Pow(1-p, float64(k-1))
	}
	w := make([]float64, n)
	for i, mi := range masked {
		if !mi {
			continue
		}
		for j, mj := range masked {
			if j != i && !mj {
				w[i] += g[abs(i-j)]
			}
		}
	}
	return w
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
