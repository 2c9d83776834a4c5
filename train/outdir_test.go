package train

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// An output folder belongs to one run: a folder holding something else is
// refused unless the run resumes it or may overwrite it (which clears it,
// old checkpoints included); a folder a live run holds is refused; the
// lock of a run that is gone is taken over; an unwritable folder is named.
func TestClaimOut(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	// No process has a pid above Linux's largest pid_max (2^22).
	const deadPid = 1<<22 + 7
	withFiles := func(t *testing.T, dir string) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, checkpointsDir, "step-000100"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("old"), 0o644))
	}
	lockedBy := func(pid int, host string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, LockFile), []byte(fmt.Sprintf("%d %s\n", pid, host)), 0o644))
		}
	}
	cases := []struct {
		name    string
		prepare func(*testing.T, string)
		claim   Claim
		want    error  // nil: claimed
		remains string // a file that must still be there afterwards ("" : none)
	}{
		{"new folder", nil, Claim{}, nil, ""},
		{"empty folder", func(t *testing.T, d string) { require.NoError(t, os.MkdirAll(d, 0o755)) }, Claim{}, nil, ""},
		{"another run's folder", withFiles, Claim{}, ErrNotEmpty, "model.safetensors"},
		{"resumed run's folder", withFiles, Claim{Resume: true}, nil, "model.safetensors"},
		{"overwrite", withFiles, Claim{Overwrite: true}, nil, ""},
		{"live run", lockedBy(os.Getpid(), host), Claim{Resume: true}, ErrLocked, LockFile},
		{"run on another host", lockedBy(1, host+"-other"), Claim{Resume: true}, ErrLocked, LockFile},
		{"stale lock", lockedBy(deadPid, host), Claim{}, nil, ""},
		{"torn lock", func(t *testing.T, d string) {
			require.NoError(t, os.MkdirAll(d, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, LockFile), nil, 0o644))
		}, Claim{}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if c.prepare != nil {
				c.prepare(t, dir)
			}
			release, err := ClaimOut(dir, c.claim)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), dir)
			} else {
				require.NoError(t, err)
				js, err := os.ReadFile(filepath.Join(dir, LockFile))
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("%d %s\n", os.Getpid(), host), string(js))
				_, err = ClaimOut(dir, Claim{Resume: true})
				require.ErrorIs(t, err, ErrLocked, "a second run on the same folder")
				release()
				_, err = os.Stat(filepath.Join(dir, LockFile))
				require.True(t, os.IsNotExist(err), "release removes the lock")
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if c.remains == "" {
				require.Empty(t, names)
			} else {
				require.Contains(t, names, c.remains)
			}
		})
	}
	// A folder that cannot be made (a file is in the way) is named.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = ClaimOut(filepath.Join(file, "out"), Claim{})
	require.ErrorContains(t, err, filepath.Join(file, "out")+": cannot create the output folder: not a directory")
}
