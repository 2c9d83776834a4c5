package synth

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
)

func atoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(s)
	require.NoError(t, err)
	return v
}

func digits(v int) int { return len(strconv.Itoa(v)) }

var (
	reAdd    = regexp.MustCompile(`^What is (\d+) \+ (\d+)\?$`)
	reSub    = regexp.MustCompile(`^What is (\d+) - (\d+)\?$`)
	reCount  = regexp.MustCompile(`^How many times does the letter ([a-z]) appear in ([a-z]+)\?$`)
	reGain   = regexp.MustCompile(`^(\w+) has (\d+) (\w+) and gets (\d+) more\. How many (\w+) does (\w+) have now\?$`)
	reLose   = regexp.MustCompile(`^(\w+) has (\d+) (\w+) and gives away (\d+)\. How many (\w+) does (\w+) have now\?$`)
	reJoint  = regexp.MustCompile(`^(\w+) has (\d+) (\w+) and (\w+) has (\d+) (\w+)\. How many (\w+) do they have together\?$`)
	sortHead = "Sort from smallest to largest: "
	revHead  = "Reverse the order of the words: "
	copyHead = "Repeat exactly: "
)

// solve answers a prompt from its text alone, independently of the generator,
// and checks that the prompt respects the level's sizes.
func solve(t *testing.T, e Example, s sizes) string {
	t.Helper()
	inDigits := func(v int) {
		require.True(t, digits(v) >= s.digits[0] && digits(v) <= s.digits[1], "%d has the wrong digit count in %q", v, e.Prompt)
	}
	inStory := func(v int) {
		require.True(t, v >= s.story[0] && v <= s.story[1], "%d outside the level in %q", v, e.Prompt)
	}
	switch e.Task {
	case "add":
		m := reAdd.FindStringSubmatch(e.Prompt)
		require.NotNil(t, m, e.Prompt)
		a, b := atoi(t, m[1]), atoi(t, m[2])
		inDigits(a)
		inDigits(b)
		return strconv.Itoa(a + b)
	case "sub":
		m := reSub.FindStringSubmatch(e.Prompt)
		require.NotNil(t, m, e.Prompt)
		a, b := atoi(t, m[1]), atoi(t, m[2])
		inDigits(a)
		inDigits(b)
		require.GreaterOrEqual(t, a, b, "answers are never negative")
		return strconv.Itoa(a - b)
	case "sort":
		require.True(t, strings.HasPrefix(e.Prompt, sortHead), e.Prompt)
		fields := strings.Fields(strings.TrimPrefix(e.Prompt, sortHead))
		require.True(t, len(fields) >= s.listLen[0] && len(fields) <= s.listLen[1], e.Prompt)
		nums := make([]int, len(fields))
		for i, f := range fields {
			nums[i] = atoi(t, f)
			require.Less(t, nums[i], s.listBelow)
		}
		sort.Sort(sort.IntSlice(nums))
		var b strings.Builder
		for i, v := range nums {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(v))
		}
		return b.String()
	case "reverse":
		require.True(t, strings.HasPrefix(e.Prompt, revHead), e.Prompt)
		w := strings.Fields(strings.TrimPrefix(e.Prompt, revHead))
		require.True(t, len(w) >= s.words[0] && len(w) <= s.words[1], e.Prompt)
		var rev []string
		for i := len(w) - 1; i >= 0; i-- {
			rev = append(rev, w[i])
		}
		return strings.Join(rev, " ")
	case "copy":
		require.True(t, strings.HasPrefix(e.Prompt, copyHead), e.Prompt)
		w := strings.Fields(strings.TrimPrefix(e.Prompt, copyHead))
		require.True(t, len(w) >= s.words[0] && len(w) <= s.words[1], e.Prompt)
		return strings.TrimPrefix(e.Prompt, copyHead)
	case "count":
		m := reCount.FindStringSubmatch(e.Prompt)
		require.NotNil(t, m, e.Prompt)
		n := 0
		for _, c := range m[2] {
			if string(c) == m[1] {
				n++
			}
		}
		return strconv.Itoa(n)
	case "word":
		if m := reGain.FindStringSubmatch(e.Prompt); m != nil {
			require.Equal(t, m[1], m[6])
			require.Equal(t, m[3], m[5])
			inStory(atoi(t, m[2]))
			inStory(atoi(t, m[4]))
			return strconv.Itoa(atoi(t, m[2]) + atoi(t, m[4]))
		}
		if m := reLose.FindStringSubmatch(e.Prompt); m != nil {
			require.Equal(t, m[1], m[6])
			inStory(atoi(t, m[2]))
			inStory(atoi(t, m[4]))
			return strconv.Itoa(atoi(t, m[2]) - atoi(t, m[4]))
		}
		m := reJoint.FindStringSubmatch(e.Prompt)
		require.NotNil(t, m, e.Prompt)
		require.NotEqual(t, m[1], m[4], "two different people")
		inStory(atoi(t, m[2]))
		inStory(atoi(t, m[5]))
		return strconv.Itoa(atoi(t, m[2]) + atoi(t, m[5]))
	}
	t.Fatalf("unknown task %q", e.Task)
	return ""
}

func TestAnswersAreRight(t *testing.T) {
	for _, level := range []Level{Easy, Medium, Hard} {
		t.Run(level.String(), func(t *testing.T) {
			seed := uint64(level)*1000 + 7
			ex, err := GenerateLevel(3500, seed, nil, level)
			require.NoError(t, err)
			zeros := 0
			for _, e := range ex {
				require.Equal(t, solve(t, e, levelSizes[level]), e.Answer, "%s: %q", e.Task, e.Prompt)
				require.Less(t, len(strings.Fields(e.Prompt)), 20, "prompt too long: %q", e.Prompt)
				require.LessOrEqual(t, len(strings.Fields(e.Answer)), 8, "answer too long: %q", e.Answer)
				if e.Task == "count" && e.Answer == "0" {
					zeros++
				}
			}
			assert.Positive(t, zeros, "counting sometimes asks for an absent letter")
		})
	}
}

func TestTasksTakeTurns(t *testing.T) {
	ex, err := Generate(703, 5, nil)
	require.NoError(t, err)
	perTask := map[string]int{}
	for _, e := range ex {
		perTask[e.Task]++
	}
	require.Len(t, perTask, len(TaskNames()))
	for name, n := range perTask {
		assert.InDelta(t, 703.0/7, n, 1, name)
	}
	// The order is shuffled, not round-robin.
	same := 0
	for i := 1; i < len(ex); i++ {
		if ex[i].Task == ex[i-1].Task {
			same++
		}
	}
	assert.Positive(t, same)

	only, err := Generate(50, 5, []string{"sort", "copy"})
	require.NoError(t, err)
	for _, e := range only {
		assert.Contains(t, []string{"sort", "copy"}, e.Task)
	}
}

func TestDeterministicBySeed(t *testing.T) {
	a, err := Generate(200, 42, nil)
	require.NoError(t, err)
	b, err := Generate(200, 42, nil)
	require.NoError(t, err)
	c, err := Generate(200, 43, nil)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}

func TestBadArguments(t *testing.T) {
	_, err := Generate(10, 1, []string{"add", "divide"})
	assert.ErrorContains(t, err, `unknown task "divide"`)
	_, err = GenerateLevel(10, 1, nil, Level(9))
	assert.ErrorContains(t, err, "unknown level")
	for _, l := range []Level{Easy, Medium, Hard} {
		got, err := ParseLevel(strings.ToUpper(l.String()))
		require.NoError(t, err)
		assert.Equal(t, l, got)
	}
	_, err = ParseLevel("extreme")
	assert.Error(t, err)
}

func TestJSONLRoundTripKeepsTask(t *testing.T) {
	ex, err := GenerateLevel(60, 9, nil, Easy)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, ex))
	first, _, _ := strings.Cut(buf.String(), "\n")
	assert.True(t, strings.HasPrefix(first, `{"task":"`), first)

	path := filepath.Join(t.TempDir(), "synth.jsonl")
	require.NoError(t, WriteFile(path, ex))
	back, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, ex, back)

	convs, _, err := data.LoadChat([]string{path}, data.LoadOptions{})
	require.NoError(t, err)
	for i, c := range convs {
		assert.Equal(t, ex[i].Task, c.Task)
		assert.Equal(t, ex[i].Messages(), c.Messages)
	}
}

func TestCorrectAndExclude(t *testing.T) {
	e := Example{Task: "sort", Prompt: "p", Answer: "3 7 19"}
	assert.True(t, e.Correct(" 3 7  19\n"))
	assert.False(t, e.Correct("3 7 91"))
	assert.False(t, e.Correct("3 7 19 20"))

	train, err := GenerateLevel(2000, 1, []string{"add"}, Easy)
	require.NoError(t, err)
	test, err := GenerateLevel(500, 2, []string{"add"}, Easy)
	require.NoError(t, err)
	held := Exclude(test, train)
	assert.Less(t, len(held), len(test), "easy additions repeat across seeds")
	seen := map[string]bool{}
	for _, e := range train {
		seen[e.Prompt] = true
	}
	for _, e := range held {
		assert.False(t, seen[e.Prompt])
	}
}

// byteEncoder gives one id per byte, standing in for a tokenizer.
type byteEncoder struct{}

func (byteEncoder) Encode(text string, _ bool) []int {
	ids := make([]int, len(text))
	for i := range ids {
		ids[i] = int(text[i]) + 4
	}
	return ids
}

func TestSynthFeedsSFT(t *testing.T) {
	ex, err := Generate(100, 3, nil)
	require.NoError(t, err)
	convs := make([]data.Conversation, len(ex))
	for i, e := range ex {
		convs[i] = data.Conversation{Messages: e.Messages(), Task: e.Task}
	}
	rows, st, err := data.BuildSFT(byteEncoder{}, convs, data.SFTConfig{MaxLen: 160, PadID: 0})
	require.NoError(t, err)
	assert.Equal(t, len(ex), st.Examples, "every synthetic example fits in 160 bytes")
	assert.Zero(t, st.Truncated)
	for i, r := range rows {
		assert.Equal(t, ex[i].Task, r.Task)
		assert.Equal(t, len(ex[i].Answer)+len("\n[/Answer]\n\n"), len(r.InputIDs)-r.PromptLen)
	}
}

func TestVariableLengthTasks(t *testing.T) {
	ex, err := GenerateLevel(400, 3, VariableLengthTasks(), Medium)
	require.NoError(t, err)
	lengths := map[string]map[int]bool{"dedup": {}, "span": {}, "repeat": {}}
	for _, e := range ex {
		n := len(strings.Fields(e.Answer))
		lengths[e.Task][n] = true
		switch e.Task {
		case "dedup":
			in := strings.Fields(strings.TrimPrefix(e.Prompt, "Remove the repeated numbers: "))
			seen := map[string]bool{}
			var want []string
			for _, w := range in {
				if !seen[w] {
					seen[w] = true
					want = append(want, w)
				}
			}
			require.Equal(t, strings.Join(want, " "), e.Answer, e.Prompt)
		case "span":
			var a, b int
			_, err := fmt.Sscanf(e.Prompt, "Count from %d to %d", &a, &b)
			require.NoError(t, err)
			require.Len(t, strings.Fields(e.Answer), b-a+1, e.Prompt)
			require.True(t, strings.HasPrefix(e.Answer, fmt.Sprint(a)) && strings.HasSuffix(e.Answer, fmt.Sprint(b)), e.Answer)
		case "repeat":
			var w string
			var k int
			_, err := fmt.Sscanf(e.Prompt, "Write %s %d times", &w, &k)
			require.NoError(t, err)
			require.Equal(t, slices.Repeat([]string{w}, k), strings.Fields(e.Answer), e.Prompt)
			require.True(t, k >= 2 && k <= 60, e.Prompt)
		}
	}
	require.GreaterOrEqual(t, len(lengths["dedup"]), 5, "dedup answers of many lengths")
	require.Equal(t, 8, len(lengths["span"]), "span answers of 1 to 8 numbers")
	require.GreaterOrEqual(t, len(lengths["repeat"]), 40, "repeat answers of 2 to 60 words")
}

// The numeric tasks' answers follow from single digits: compare's two
// numbers differ in exactly one place and the answer is the one with the
// larger digit there; digit's answer is the named place's digit.
func TestNumericTasks(t *testing.T) {
	ex, err := GenerateLevel(300, 9, NumericTasks(), Hard)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range ex {
		seen[e.Task]++
		switch e.Task {
		case "compare":
			var a, b string
			_, err := fmt.Sscanf(e.Prompt, "Which is larger: %s or %s", &a, &b)
			require.NoError(t, err, e.Prompt)
			b = strings.TrimSuffix(b, "?")
			require.Equal(t, len(a), len(b), e.Prompt)
			diff := 0
			for i := range a {
				if a[i] != b[i] {
					diff++
				}
			}
			require.Equal(t, 1, diff, e.Prompt)
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			require.Equal(t, strconv.Itoa(max(x, y)), e.Answer, e.Prompt)
			require.NotEqual(t, byte('0'), a[0], e.Prompt)
			require.NotEqual(t, byte('0'), b[0], e.Prompt)
		case "digit":
			var place, n string
			_, err := fmt.Sscanf(e.Prompt, "What is the %s digit of %s", &place, &n)
			require.NoError(t, err, e.Prompt)
			n = strings.TrimSuffix(n, "?")
			i := slices.Index(placeNames, place)
			require.GreaterOrEqual(t, i, 0, e.Prompt)
			require.Equal(t, n[i:i+1], e.Answer, e.Prompt)
		default:
			t.Fatalf("task %q", e.Task)
		}
	}
	require.Equal(t, map[string]int{"compare": 150, "digit": 150}, seen)
}
