package editflow

import "fmt"

// Blank marks a gap in an alignment: a column where one side has no token.
const Blank int32 = -1

// Alignment moves, in the order Align prefers them when costs tie.
const (
	moveDiag = iota // x0[i-1] against x1[j-1]: a match or a substitution
	moveUp          // x0[i-1] against a blank: a deletion
	moveLeft        // a blank against x1[j-1]: an insertion
)

// Align is the Needleman–Wunsch global alignment of x0 with x1 at unit cost
// for a substitution and for a gap (a match costs nothing). It returns z0
// and z1, of equal length, that are x0 and x1 with Blank inserted at the
// gaps: column j is a match, a substitution (both tokens, different), a
// deletion (z1[j] is Blank) or an insertion (z0[j] is Blank). Dropping the
// blanks gives back x0 and x1.
//
// Among the alignments of least cost it returns the reference's: every cell
// of the table keeps the first of diagonal, up, left that reaches its
// minimum, and the traceback follows those choices from the last cell. That
// rule pushes gaps toward the start of the sequences: aligning [BOS M M M M]
// with [BOS a b] deletes the first two masks and substitutes the last two.
func Align(x0, x1 []int32) (z0, z1 []int32) {
	n, m := len(x0), len(x1)
	cost := make([]int, (n+1)*(m+1))
	move := make([]uint8, (n+1)*(m+1))
	at := func(i, j int) int { return i*(m+1) + j }
	for i := 1; i <= n; i++ {
		cost[at(i, 0)], move[at(i, 0)] = i, moveUp
	}
	for j := 1; j <= m; j++ {
		cost[at(0, j)], move[at(0, j)] = j, moveLeft
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			sub := 1
			if x0[i-1] == x1[j-1] {
				sub = 0
			}
			best, mv := cost[at(i-1, j-1)]+sub, uint8(moveDiag)
			if c := cost[at(i-1, j)] + 1; c < best {
				best, mv = c, moveUp
			}
			if c := cost[at(i, j-1)] + 1; c < best {
				best, mv = c, moveLeft
			}
			cost[at(i, j)], move[at(i, j)] = best, mv
		}
	}
	// Trace back from (n, m), collecting columns in reverse.
	for i, j := n, m; i > 0 || j > 0; {
		switch move[at(i, j)] {
		case moveDiag:
			z0, z1 = append(z0, x0[i-1]), append(z1, x1[j-1])
			i, j = i-1, j-1
		case moveUp:
			z0, z1 = append(z0, x0[i-1]), append(z1, Blank)
			i--
		default:
			z0, z1 = append(z0, Blank), append(z1, x1[j-1])
			j--
		}
	}
	reverse(z0)
	reverse(z1)
	if z0 == nil {
		z0, z1 = []int32{}, []int32{}
	}
	return z0, z1
}

func reverse(s []int32) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// StripBlanks returns z without its Blank entries.
func StripBlanks(z []int32) []int32 {
	out := make([]int32, 0, len(z))
	for _, t := range z {
		if t != Blank {
			out = append(out, t)
		}
	}
	return out
}

// Kind is the kind of one edit.
type Kind uint8

const (
	// Sub replaces the token at a row.
	Sub Kind = iota
	// Del removes the token at a row.
	Del
	// Ins puts a token right after a row.
	Ins
)

func (k Kind) String() string {
	switch k {
	case Sub:
		return "SUB"
	case Del:
		return "DEL"
	case Ins:
		return "INS"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Edit is one edit of a sequence: Kind at Row (a row of the sequence being
// edited) with Token (for Sub and Ins; NoToken for Del).
type Edit struct {
	Kind  Kind
	Row   int
	Token int32
}

// NoToken is the Token of a deletion.
const NoToken int32 = -1

// Edits lists the edits that remain to turn the aligned zt into z1, as the
// reference's trainer does: for each column j where they differ, with nb the
// number of tokens of zt left of j, an insertion of z1[j] after row
// max(nb−1, 0) (the token left of the gap), a deletion at row nb, or a
// substitution of z1[j] at row nb. Rows are rows of zt without blanks.
// Several insertions into one gap are several edits at the same row.
func Edits(zt, z1 []int32) []Edit {
	if len(zt) != len(z1) {
		panic(fmt.Sprintf("editflow: Edits of aligned sequences of lengths %d and %d", len(zt), len(z1)))
	}
	var out []Edit
	nb := 0
	for j := range zt {
		a, b := zt[j], z1[j]
		switch {
		case a == b:
		case a == Blank:
			out = append(out, Edit{Ins, max(nb-1, 0), b})
		case b == Blank:
			out = append(out, Edit{Del, nb, NoToken})
		default:
			out = append(out, Edit{Sub, nb, b})
		}
		if a != Blank {
			nb++
		}
	}
	return out
}

// Apply returns x with the edits applied, all at once, to the rows of x:
// each row is dropped (Del), replaced (Sub) or kept, and the tokens inserted
// after it (Ins, in the order given) follow it — even when it was dropped.
// It is how one step of the sampler edits a sequence, and it turns x0 into
// x1 when given Edits of Align(x0, x1). An insertion into an empty x (row 0
// of nothing) yields the inserted tokens.
func Apply(x []int32, edits []Edit) []int32 {
	n := max(len(x), 1)
	replace := make([]int32, n)
	drop := make([]bool, n)
	ins := make([][]int32, n)
	for i := range replace {
		replace[i] = Blank
	}
	for _, e := range edits {
		switch e.Kind {
		case Sub:
			replace[e.Row] = e.Token
		case Del:
			drop[e.Row] = true
		case Ins:
			ins[e.Row] = append(ins[e.Row], e.Token)
		}
	}
	out := make([]int32, 0, len(x)+len(edits))
	for i := range n {
		if i < len(x) && !drop[i] {
			if replace[i] != Blank {
				out = append(out, replace[i])
			} else {
				out = append(out, x[i])
			}
		}
		out = append(out, ins[i]...)
	}
	return out
}
