package bd3lm

// SetDenseForTest makes Generate pass its sampling mask dense (true) or as
// structure (false, the default).
func SetDenseForTest(dense bool) { denseForTest = dense }
