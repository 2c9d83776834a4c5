package serve

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// chromium finds a headless Chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no headless Chromium (scripts/serve-test-deps.sh --browser installs Debian's)")
	return ""
}

// TestPageInBrowser loads the page in headless Chromium, asks a question
// and checks that the denoising was drawn (masked positions and the block
// in progress) and that the answer is the API's for the same settings.
func TestPageInBrowser(t *testing.T) {
	path := chromium(t)
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{})
	code, b := post(t, ts.URL+"/v1/chat/completions",
		`{"messages":[{"role":"user","content":"the lazy dog"}],"seed":11,"max_tokens":16,"steps":8,"block_size":4,"temperature":0,"threshold":0,"cfg":0,"remasking":"low_confidence"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	want := decodeChat(t, b).Choices[0]

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()

	// Watch the log for masked tokens and a highlighted block while the
	// answer is denoised. The records name every node added, even one a
	// later frame of the same task removed (a loaded browser may read the
	// whole stream at once and draw the last frame over the first).
	const watch = `window.seen = {mask: false, block: false};
		new MutationObserver((records) => {
			for (const r of records) {
				if (!r.target.classList || !r.target.classList.contains('assistant')) continue;
				for (const n of r.addedNodes) {
					if (!n.classList) continue;
					if (n.classList.contains('mask')) window.seen.mask = true;
					if (n.classList.contains('block')) window.seen.block = true;
				}
			}
		}).observe(document.getElementById('log'), {childList: true, subtree: true});`
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitReady("#form"),
	)
	require.NoError(t, err)
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](watch+" true;"))
	require.NoError(t, err)
	// Fill in the controls and send the question as a user would.
	const ask = `for (const [id, v] of Object.entries({seed: "11", max_tokens: "16", steps: "8", block_size: "4", input: "the lazy dog"}))
			document.getElementById(id).value = v;
		document.getElementById("send").click();
		true;`
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](ask))
	require.NoError(t, err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](
		`(() => { const m = document.querySelector('.meta'); return !!m && /· (stop|length)$/.test(m.textContent); })()`,
		chromedp.WithPollingTimeout(45*time.Second)))
	require.NoError(t, err, "the answer did not finish")
	answer, err := chromedp.Run(ctx, chromedp.Text(".assistant"))
	require.NoError(t, err)
	meta, err := chromedp.Run(ctx, chromedp.Text(".meta"))
	require.NoError(t, err)
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Mask, Block bool }](`window.seen`))
	require.NoError(t, err)
	assert.Equal(t, want.Message.Content, answer)
	assert.Contains(t, meta, "step ")
	assert.Contains(t, meta, want.FinishReason)
	assert.True(t, seen.Mask, "no masked position was drawn")
	assert.True(t, seen.Block, "no block in progress was highlighted")
}

// pauser holds the model's call number at until release is closed.
type pauser struct {
	mdlm.Denoiser
	calls   atomic.Int64
	at      int64
	release chan struct{}
}

func (p *pauser) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if p.calls.Add(1) == p.at {
		<-p.release
	}
	return p.Denoiser.Logits(ids, batch, seqLen, keyMask, rows)
}

// TestPageScreenshot writes a screenshot of the page halfway through
// denoising an answer to the file DLLM_PAGE_SCREENSHOT names (the README's
// picture); it skips when that is unset.
func TestPageScreenshot(t *testing.T) {
	out := os.Getenv("DLLM_PAGE_SCREENSHOT")
	if out == "" {
		t.Skip("DLLM_PAGE_SCREENSHOT is not set")
	}
	path := chromium(t)
	m := newTestModel(t, "tiny")
	p := &pauser{Denoiser: m.net, at: 7, release: make(chan struct{})}
	pm := *m
	pm.net = p
	_, ts := newTestServer(t, &pm, Options{Name: "tiny"})
	defer close(p.release)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1000, 420))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitReady("#form")))
	const ask = `for (const [id, v] of Object.entries({seed: "1", max_tokens: "24", steps: "24", block_size: "8", temperature: "0.7", input: "the quick brown fox"}))
			document.getElementById(id).value = v;
		document.getElementById("send").click();
		true;`
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](ask))
	require.NoError(t, err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const m = document.querySelector('.meta'); return !!m && m.textContent.startsWith('step 6 '); })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, png, 0o644))
}
