package tensor

import (
	"bytes"
	"strings"
	"testing"
)

func countingCPU(t *testing.T) (*Counter, *Device) {
	t.Helper()
	be, err := openBackend("cpu")
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounter(be)
	return c, NewDevice(c)
}

// The counter sees every kernel of a training micro-step, and the counts
// show the fusions: the softcap's backward is folded into the
// cross-entropy's, and products add their gradients into the ones already
// there (gemm+=) instead of a separate addition.
func TestCounterCountsAStep(t *testing.T) {
	c, d := countingCPU(t)
	cfg := tinyCfg
	cfg.L = 2
	m := newModel(d, 1, cfg)
	c.Reset()
	s := d.Scope()
	idx, tg := batchFor(d, 1, cfg)
	m.loss(idx, tg).Backward()
	s.Close()

	// rms_norm: the embedding's, per layer the block's, q's, k's and the
	// MLP's, and the final one.
	if got, want := c.Calls("rms_norm"), 1+4*cfg.L+1; got != want {
		t.Errorf("rms_norm calls %d, want %d", got, want)
	}
	if got := c.Calls("cross_entropy_backward"); got != 1 {
		t.Errorf("cross_entropy_backward calls %d, want 1", got)
	}
	if got := c.Calls("unary_backward softcap"); got != 0 {
		t.Errorf("the softcap's own backward ran %d times: it should be fused into the cross-entropy's", got)
	}
	// h = norm(x) feeds three products per layer: the first makes dh, the
	// other two add into it.
	if got, want := c.Calls("gemm+="), 2*cfg.L; got != want {
		t.Errorf("first backward: %d products added into an existing gradient, want %d", got, want)
	}

	// A second micro-step: every weight's gradient exists, so each of the
	// 6 products per layer and the head's adds its weight gradient in place.
	c.Reset()
	s = d.Scope()
	idx, tg = batchFor(d, 2, cfg)
	m.loss(idx, tg).Backward()
	s.Close()
	if got, want := c.Calls("gemm+="), 2*cfg.L+6*cfg.L+1; got != want {
		t.Errorf("second backward: %d products added in place, want %d", got, want)
	}

	var buf bytes.Buffer
	c.Report(&buf)
	calls, _ := c.Total()
	if calls < 50 || !strings.Contains(buf.String(), "total") || !strings.Contains(buf.String(), "attention_backward") {
		t.Fatalf("report of %d calls:\n%s", calls, buf.String())
	}
	t.Logf("kernels of one micro-step of a %d-layer model:\n%s", cfg.L, buf.String())
}

// Gradients through the counter equal those without it, in float64 too.
func TestCounterIsTransparent(t *testing.T) {
	loss64, grads64 := tinyModelGrads(t, open64(t))
	be, err := openBackend("cpu64")
	if err != nil {
		t.Fatal(err)
	}
	loss, grads := tinyModelGrads(t, NewDevice(NewCounter(be)))
	if loss != loss64 {
		t.Fatalf("loss %v through the counter, %v without", loss, loss64)
	}
	for name, g := range grads64 {
		for i := range g {
			if grads[name][i] != g[i] {
				t.Fatalf("%s[%d]: %v through the counter, %v without", name, i, grads[name][i], g[i])
			}
		}
	}
}
