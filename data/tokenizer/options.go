package tokenizer

import (
	"encoding/json"
	"fmt"
)

// Truncation is the truncation section of tokenizer.json. Encoding cuts the
// text's ids to MaxLength minus the specials the post-processor adds.
type Truncation struct {
	MaxLength int    `json:"max_length"`
	Direction string `json:"direction"` // "Right" keeps the start, "Left" keeps the end
	Strategy  string `json:"strategy"`  // "LongestFirst" etc.; the same for one text
	Stride    int    `json:"stride"`    // overflow windows; not produced here
}

func (tr *Truncation) truncate(ids []int, n int) []int {
	if len(ids) <= n {
		return ids
	}
	if tr.Direction == "Left" {
		return ids[len(ids)-n:]
	}
	return ids[:n]
}

// Padding is the padding section of tokenizer.json.
type Padding struct {
	// Fixed pads every encoding to this length; 0 means HF's BatchLongest:
	// pad to the longest encoding of the batch (a single text: itself).
	Fixed      int
	Direction  string // "Right" or "Left"
	MultipleOf int    // round the length up to a multiple of this; 0: no rounding
	PadID      int
	PadTypeID  int
	PadToken   string
}

type paddingJSON struct {
	Strategy   json.RawMessage `json:"strategy"`
	Direction  string          `json:"direction"`
	MultipleOf *int            `json:"pad_to_multiple_of"`
	PadID      int             `json:"pad_id"`
	PadTypeID  int             `json:"pad_type_id"`
	PadToken   string          `json:"pad_token"`
}

func (p *Padding) UnmarshalJSON(data []byte) error {
	var c paddingJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	*p = Padding{Direction: c.Direction, PadID: c.PadID, PadTypeID: c.PadTypeID, PadToken: c.PadToken}
	if c.MultipleOf != nil {
		p.MultipleOf = *c.MultipleOf
	}
	var name string
	if json.Unmarshal(c.Strategy, &name) == nil {
		if name != "BatchLongest" {
			return fmt.Errorf("padding strategy %q is not supported", name)
		}
		return nil
	}
	var fixed struct {
		Fixed *int `json:"Fixed"`
	}
	if err := json.Unmarshal(c.Strategy, &fixed); err != nil || fixed.Fixed == nil {
		return fmt.Errorf("padding strategy %s is not supported", c.Strategy)
	}
	p.Fixed = *fixed.Fixed
	return nil
}

func (p Padding) MarshalJSON() ([]byte, error) {
	c := paddingJSON{Strategy: json.RawMessage(`"BatchLongest"`), Direction: p.Direction,
		PadID: p.PadID, PadTypeID: p.PadTypeID, PadToken: p.PadToken}
	if c.Direction == "" {
		c.Direction = "Right"
	}
	if p.Fixed > 0 {
		c.Strategy = json.RawMessage(fmt.Sprintf(`{"Fixed":%d}`, p.Fixed))
	}
	if p.MultipleOf > 0 {
		m := p.MultipleOf
		c.MultipleOf = &m
	}
	return json.Marshal(c)
}

// pad pads ids to the target length (Fixed, else longest), rounded up to
// MultipleOf. Longer encodings are left alone.
func (p *Padding) pad(ids []int, longest int) []int {
	n := longest
	if p.Fixed > 0 {
		n = p.Fixed
	}
	if m := p.MultipleOf; m > 0 && n%m != 0 {
		n += m - n%m
	}
	if len(ids) >= n {
		return ids
	}
	out := make([]int, 0, n)
	if p.Direction == "Left" {
		for len(out) < n-len(ids) {
			out = append(out, p.PadID)
		}
		return append(out, ids...)
	}
	out = append(out, ids...)
	for len(out) < n {
		out = append(out, p.PadID)
	}
	return out
}
