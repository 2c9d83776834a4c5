package synth

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/internal/atomicfile"
)

// Level sets the sizes of the tasks.
type Level int

// The levels. Numbers are drawn by first drawing their digit count uniformly,
// so short and long numbers are equally common.
//
//	level   add/sub operands   sort              reverse/copy   word problems
//	Easy    1-2 digits         3 numbers < 100   3 words        numbers 1-9
//	Medium  2-3 digits         4-5 numbers < 100 3-5 words      numbers 2-20
//	Hard    3-4 digits         5-7 numbers < 1000 4-7 words     numbers 10-99
const (
	Easy Level = iota + 1
	Medium
	Hard
)

// sizes are the knobs a level turns.
type sizes struct {
	digits    [2]int // add/sub operand digit counts, inclusive
	listLen   [2]int // how many numbers to sort
	listBelow int    // numbers to sort are below this
	words     [2]int // reverse/copy word counts
	story     [2]int // word-problem quantities, inclusive
	countLong bool   // count letters in long words too
}

var levelSizes = map[Level]sizes{
	Easy:   {digits: [2]int{1, 2}, listLen: [2]int{3, 3}, listBelow: 100, words: [2]int{3, 3}, story: [2]int{1, 9}},
	Medium: {digits: [2]int{2, 3}, listLen: [2]int{4, 5}, listBelow: 100, words: [2]int{3, 5}, story: [2]int{2, 20}, countLong: true},
	Hard:   {digits: [2]int{3, 4}, listLen: [2]int{5, 7}, listBelow: 1000, words: [2]int{4, 7}, story: [2]int{10, 99}, countLong: true},
}

var levelNames = map[Level]string{Easy: "easy", Medium: "medium", Hard: "hard"}

func (l Level) String() string {
	if s, ok := levelNames[l]; ok {
		return s
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads "easy", "medium" or "hard".
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if strings.EqualFold(s, name) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want easy, medium or hard)", s)
}

// Example is one generated task.
type Example struct {
	Task   string
	Prompt string
	Answer string
}

// Messages is the example as a conversation: the prompt, then the answer.
func (e Example) Messages() []data.Message {
	return []data.Message{{Role: data.RoleUser, Content: e.Prompt}, {Role: data.RoleAssistant, Content: e.Answer}}
}

// Correct reports whether a model's answer matches, ignoring how words are
// spaced (data.SameAnswer, the comparison of dllm eval).
func (e Example) Correct(got string) bool { return data.SameAnswer(got, e.Answer) }

// task draws one example at a level.
type task func(r *data.Rand, s sizes) (prompt, answer string)

var tasks = map[string]task{
	"add":     genAdd,
	"sub":     genSub,
	"sort":    genSort,
	"reverse": genReverse,
	"count":   genCount,
	"copy":    genCopy,
	"word":    genWordProblem,
	"dedup":   genDedup,
	"span":    genSpan,
	"repeat":  genRepeat,
	"compare": genCompare,
	"digit":   genDigit,
}

// VariableLengthTasks are tasks whose answers vary in length for prompts of
// one length, where a sampler that must fix the answer's length in advance
// (MDLM's canvas) is at a disadvantage against one that inserts and deletes
// (Edit Flows) or stops after any block (BD3LM): removing the repeats from a
// list, counting from one number to another, and writing a word 2 to 60
// times. They are not among TaskNames' defaults.
func VariableLengthTasks() []string { return []string{"dedup", "span", "repeat"} }

// NumericTasks are tasks whose answer turns on single digits: which of two
// numbers of the same length is larger (they differ in one digit), and
// which digit stands at a given place. A tokenizer that merges digit runs
// hides what they ask about. They are not among TaskNames' defaults.
func NumericTasks() []string { return []string{"compare", "digit"} }

func knownTasks() string {
	return strings.Join(slices.Concat(TaskNames(), VariableLengthTasks(), NumericTasks()), ", ")
}

// TaskNames lists the tasks in a fixed order.
func TaskNames() []string {
	return []string{"add", "sub", "sort", "reverse", "count", "copy", "word"}
}

// Generate draws n examples at the Medium level, the tasks taking turns in the
// order given (nil or empty: all tasks), then shuffled. The result depends only
// on n, seed and tasks.
func Generate(n int, seed uint64, taskNames []string) ([]Example, error) {
	return GenerateLevel(n, seed, taskNames, Medium)
}

// GenerateLevel is Generate at a chosen level.
func GenerateLevel(n int, seed uint64, taskNames []string, level Level) ([]Example, error) {
	s, ok := levelSizes[level]
	if !ok {
		return nil, fmt.Errorf("synth: unknown level %d", int(level))
	}
	if len(taskNames) == 0 {
		taskNames = TaskNames()
	}
	gens := make([]task, len(taskNames))
	for i, name := range taskNames {
		g, ok := tasks[name]
		if !ok {
			return nil, fmt.Errorf("synth: unknown task %q (known: %s)", name, knownTasks())
		}
		gens[i] = g
	}
	r := data.NewRand(seed)
	out := make([]Example, n)
	for i := range out {
		k := i % len(gens)
		p, a := gens[k](r, s)
		out[i] = Example{Task: taskNames[k], Prompt: p, Answer: a}
	}
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// Exclude returns the examples whose prompt is not among seen's: a held-out set
// that shares no question with the training set.
func Exclude(examples, seen []Example) []Example {
	prompts := make(map[string]bool, len(seen))
	for _, e := range seen {
		prompts[e.Prompt] = true
	}
	var out []Example
	for _, e := range examples {
		if !prompts[e.Prompt] {
			out = append(out, e)
		}
	}
	return out
}

// jsonLine is the chat JSONL shape, plus the task name for per-task evaluation.
type jsonLine struct {
	Task     string         `json:"task"`
	Messages []data.Message `json:"messages"`
}

// WriteJSONL writes examples as chat JSONL, one {"task", "messages"} object a line.
func WriteJSONL(w io.Writer, examples []Example) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range examples {
		if err := enc.Encode(jsonLine{e.Task, e.Messages()}); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes examples as chat JSONL to path atomically.
func WriteFile(path string, examples []Example) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return WriteJSONL(w, examples) })
}

// FromConversation recovers an Example from a loaded chat line written by
// WriteJSONL (the task name, the question and the expected answer).
func FromConversation(c data.Conversation) (Example, error) {
	if len(c.Messages) != 2 || c.Messages[0].Role != data.RoleUser || c.Messages[1].Role != data.RoleAssistant {
		return Example{}, fmt.Errorf("%s: not a question and an answer", c.Source)
	}
	return Example{Task: c.Task, Prompt: c.Messages[0].Content, Answer: c.Messages[1].Content}, nil
}

// ReadFile loads examples written by WriteFile (or any chat JSONL of single
// question/answer pairs).
func ReadFile(path string) ([]Example, error) {
	convs, _, err := data.LoadChat([]string{path}, data.LoadOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]Example, len(convs))
	for i, c := range convs {
		if out[i], err = FromConversation(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// --- the tasks ---

// between draws uniformly in [lo, hi].
func between(r *data.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// number draws a digit count in [minD, maxD], then a number with exactly that
// many digits (one digit: 0-9).
func number(r *data.Rand, digits [2]int) int {
	d := between(r, digits[0], digits[1])
	if d == 1 {
		return r.IntN(10)
	}
	lo := pow10(d - 1)
	return between(r, lo, 10*lo-1)
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func genAdd(r *data.Rand, s sizes) (string, string) {
	a, b := number(r, s.digits), number(r, s.digits)
	return fmt.Sprintf("What is %d + %d?", a, b), strconv.Itoa(a + b)
}

func genSub(r *data.Rand, s sizes) (string, string) {
	a, b := number(r, s.digits), number(r, s.digits)
	if a < b {
		a, b = b, a // answers stay non-negative
	}
	return fmt.Sprintf("What is %d - %d?", a, b), strconv.Itoa(a - b)
}

func genSort(r *data.Rand, s sizes) (string, string) {
	nums := make([]int, between(r, s.listLen[0], s.listLen[1]))
	for i := range nums {
		nums[i] = r.IntN(s.listBelow)
	}
	prompt := "Sort from smallest to largest: " + joinInts(nums)
	slices.Sort(nums)
	return prompt, joinInts(nums)
}

// genDedup asks for a list without its repeats: the numbers are drawn from
// a range as small as the list, so that the answer keeps anywhere from one
// number to all of them.
func genDedup(r *data.Rand, s sizes) (string, string) {
	nums := make([]int, between(r, s.listLen[0], s.listLen[1]+3))
	below := between(r, 2, len(nums)+2)
	for i := range nums {
		nums[i] = r.IntN(below)
	}
	var kept []int
	for _, v := range nums {
		if !slices.Contains(kept, v) {
			kept = append(kept, v)
		}
	}
	return "Remove the repeated numbers: " + joinInts(nums), joinInts(kept)
}

// genSpan asks to count from a to b, one to eight numbers.
func genSpan(r *data.Rand, s sizes) (string, string) {
	a := between(r, 1, s.story[1])
	b := a + r.IntN(8)
	var nums []int
	for v := a; v <= b; v++ {
		nums = append(nums, v)
	}
	return fmt.Sprintf("Count from %d to %d", a, b), joinInts(nums)
}

// genRepeat asks for one word written 2 to 60 times (at every level): an
// answer of 2 to 60 words whose length the prompt gives.
func genRepeat(r *data.Rand, _ sizes) (string, string) {
	w := commonWords[r.IntN(len(commonWords))]
	n := between(r, 2, 60)
	return fmt.Sprintf("Write %s %d times", w, n), strings.TrimSpace(strings.Repeat(w+" ", n))
}

func joinInts(nums []int) string {
	parts := make([]string, len(nums))
	for i, v := range nums {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, " ")
}

// pickWords draws distinct words.
func pickWords(r *data.Rand, s sizes) []string {
	n := between(r, s.words[0], s.words[1])
	idx := make([]int, len(commonWords))
	for i := range idx {
		idx[i] = i
	}
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	out := make([]string, n)
	for i := range out {
		out[i] = commonWords[idx[i]]
	}
	return out
}

func genReverse(r *data.Rand, s sizes) (string, string) {
	w := pickWords(r, s)
	prompt := "Reverse the order of the words: " + strings.Join(w, " ")
	slices.Reverse(w)
	return prompt, strings.Join(w, " ")
}

func genCopy(r *data.Rand, s sizes) (string, string) {
	w := strings.Join(pickWords(r, s), " ")
	return "Repeat exactly: " + w, w
}

func genCount(r *data.Rand, s sizes) (string, string) {
	pool := commonWords
	if s.countLong {
		pool = append(slices.Clip(commonWords), lettersWords...)
	}
	word := pool[r.IntN(len(pool))]
	var letter byte
	if r.IntN(4) > 0 {
		letter = word[r.IntN(len(word))] // a letter of the word: 1 or more
	} else {
		for { // a letter not in the word: 0
			letter = byte('a' + r.IntN(26))
			if !strings.ContainsRune(word, rune(letter)) {
				break
			}
		}
	}
	return fmt.Sprintf("How many times does the letter %c appear in %s?", letter, word),
		strconv.Itoa(strings.Count(word, string(letter)))
}

func genWordProblem(r *data.Rand, s sizes) (string, string) {
	name := names[r.IntN(len(names))]
	item := items[r.IntN(len(items))]
	a, b := between(r, s.story[0], s.story[1]), between(r, s.story[0], s.story[1])
	switch r.IntN(3) {
	case 0:
		return fmt.Sprintf("%s has %d %s and gets %d more. How many %s does %s have now?", name, a, item, b, item, name),
			strconv.Itoa(a + b)
	case 1:
		if a < b {
			a, b = b, a
		}
		return fmt.Sprintf("%s has %d %s and gives away %d. How many %s does %s have now?", name, a, item, b, item, name),
			strconv.Itoa(a - b)
	default:
		other := names[r.IntN(len(names))]
		for other == name {
			other = names[r.IntN(len(names))]
		}
		return fmt.Sprintf("%s has %d %s and %s has %d %s. How many %s do they have together?", name, a, item, other, b, item, item),
			strconv.Itoa(a + b)
	}
}

// Word lists: short, common, lower-case, distinct.
var (
	commonWords = []string{
		"red", "blue", "green", "cat", "dog", "fox", "sun", "moon", "star", "tree",
		"bird", "fish", "cake", "milk", "rain", "snow", "book", "door", "lamp", "kite",
		"ship", "road", "hill", "lake", "rock", "leaf", "seed", "rose", "bell", "coin",
		"ring", "king", "frog", "bear", "wolf", "duck", "goat", "hat", "cup", "pen",
		"box", "egg", "apple", "bread", "chair", "house", "river", "stone", "cloud", "horse",
		"seven", "three", "happy", "quick", "small", "brave", "sweet", "light", "night", "water",
	}
	// lettersWords repeat letters, which makes counting interesting.
	lettersWords = []string{
		"banana", "strawberry", "balloon", "coffee", "letter", "pepper", "cabbage",
		"puzzle", "bubble", "giraffe", "mississippi", "committee", "bookkeeper", "assessment",
	}
	names = []string{"Mia", "Leo", "Ana", "Sam", "Eva", "Tom", "Zoe", "Max", "Ivy", "Ben", "Kim", "Raj"}
	items = []string{"apples", "books", "coins", "marbles", "stickers", "cards", "pencils", "eggs", "shells", "stamps"}
)

// Write is a convenience for tools: Generate at a level and write path.
func Write(path string, n int, seed uint64, taskNames []string, level Level) error {
	ex, err := GenerateLevel(n, seed, taskNames, level)
	if err != nil {
		return err
	}
	if err := WriteFile(path, ex); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// genCompare draws two numbers of the same length that differ in exactly one
// digit and asks for the larger.
func genCompare(r *data.Rand, s sizes) (string, string) {
	d := max(between(r, s.digits[0], s.digits[1]), 2)
	a := []byte(strconv.Itoa(between(r, pow10(d-1), 10*pow10(d-1)-1)))
	b := slices.Clone(a)
	i := r.IntN(d)
	lo := byte('0')
	if i == 0 {
		lo = '1' // no leading zero
	}
	for b[i] == a[i] {
		b[i] = lo + byte(r.IntN(int('9'-lo)+1))
	}
	answer := string(a)
	if b[i] > a[i] {
		answer = string(b)
	}
	return fmt.Sprintf("Which is larger: %s or %s?", a, b), answer
}

var placeNames = []string{"first", "second", "third", "fourth", "fifth", "sixth"}

// genDigit asks for the digit at a place of a number, counted from the left.
func genDigit(r *data.Rand, s sizes) (string, string) {
	d := max(between(r, s.digits[0], s.digits[1]), 2)
	n := strconv.Itoa(between(r, pow10(d-1), 10*pow10(d-1)-1))
	i := r.IntN(len(n))
	return fmt.Sprintf("What is the %s digit of %s?", placeNames[i], n), n[i : i+1]
}
