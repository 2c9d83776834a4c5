package train

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzTrainerState feeds parseState, the reader of trainer_state.json,
// arbitrary bytes: it must never panic, and what it accepts must be a
// state a run can continue from and must survive a round trip. The seed
// corpus (testdata/fuzz/FuzzTrainerState) holds a real checkpoint's state,
// an older one without the run record, and broken ones.
func FuzzTrainerState(f *testing.F) {
	f.Add([]byte(`{"Step":0,"total_steps":1,"RNG":"AA=="}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		st, err := parseState(js)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, st.Step, 0)
		require.LessOrEqual(t, st.Step, st.TotalSteps)
		require.NotEmpty(t, st.RNG)
		again, err := json.Marshal(st)
		require.NoError(t, err)
		back, err := parseState(again)
		require.NoError(t, err, "%s", again)
		require.Equal(t, st.Step, back.Step)
		require.Equal(t, st.RNG, back.RNG)
	})
}
