package evaltask

import (
	"math/big"
	"regexp"
	"strings"
)

// numberRE matches a number as GSM8K answers write them: an optional minus
// sign and dollar sign, digits with optional thousands commas, an optional
// decimal part. A trailing period is not part of the number (it ends the
// sentence: "72." is 72).
var numberRE = regexp.MustCompile(`[-−]?\$?[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?`)

// ExtractNumber finds the final answer in a model's text: the first number
// after the last "####" when there is one, else the last number of the
// text. The number comes back normalised: no dollar sign, no commas, an
// ASCII minus.
func ExtractNumber(text string) (string, bool) {
	if i := strings.LastIndex(text, "####"); i >= 0 {
		if m := numberRE.FindString(text[i+4:]); m != "" {
			return normalizeNumber(m), true
		}
	}
	all := numberRE.FindAllString(text, -1)
	if len(all) == 0 {
		return "", false
	}
	return normalizeNumber(all[len(all)-1]), true
}

func normalizeNumber(s string) string {
	neg := strings.ContainsAny(s, "-−")
	s = strings.NewReplacer("$", "", ",", "", "-", "", "−", "").Replace(s)
	if neg {
		s = "-" + s
	}
	return s
}

// SameNumber says whether two extracted numbers are equal as decimals
// ("72", "72.0" and "72.00" are the same answer).
func SameNumber(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return a == b
	}
	return x.Cmp(y) == 0
}
