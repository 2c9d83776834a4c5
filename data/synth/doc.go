// Package synth generates small instruction tasks whose answers can be checked
// by exact match: the data the embedded demo trains on, and a quick way to see
// whether a model learned anything.
//
// Tasks (prompt → answer, at the default Medium level):
//
//	add      What is 347 + 58?                                          → 405
//	sub      What is 512 - 87?                                          → 425
//	sort     Sort from smallest to largest: 42 7 19 3                   → 3 7 19 42
//	reverse  Reverse the order of the words: red fox jumps              → jumps fox red
//	count    How many times does the letter r appear in strawberry?     → 3
//	copy     Repeat exactly: blue cat seven                             → blue cat seven
//	word     Mia has 12 apples and gets 7 more. How many apples does Mia have now? → 19
//
// Prompts stay under 20 words and answers under 8, because a tiny model trained
// for minutes on a CPU must learn them. Levels set the sizes (see Level): Easy is
// the one to use for the shortest demos. Everything is fixed by the seed.
package synth
