package status

import (
	"fmt"
	"io"
	"sync"
	"time"

	"autoresearch/internal/cost"
	"autoresearch/internal/results"
)

// Plain reports as plain log lines, one per event worth a line: for logs,
// pipes and files, where a live line would be noise. Training progress is
// printed at most once per 10 %.
type Plain struct {
	mu        sync.Mutex
	w         io.Writer
	now       func() time.Time
	n         int
	lastTenth int
	tenths    map[int]int // the last tenth of training reported, per worker
	// spendShown is the LLM's cost last printed: it is printed again when
	// another experiment is decided.
	spendShown *cost.Spend
	word       string // the task's word for a run of its program
}

// NewPlain returns a Plain reporter writing to w.
func NewPlain(w io.Writer) *Plain { return &Plain{w: w, now: time.Now} }

func (p *Plain) printf(format string, args ...any) {
	fmt.Fprintf(p.w, "%s "+format+"\n", append([]any{p.now().Format("15:04:05")}, args...)...)
}

func (p *Plain) Start(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.lastTenth = n, -1
	p.printf("experiment %d", n)
}

func (p *Plain) Phase(ph Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf("experiment %d: %s", p.n, phaseText(ph, -1, p.word))
}

func (p *Plain) Progress(f float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tenth := int(f * 10)
	if tenth > p.lastTenth && tenth > 0 {
		p.lastTenth = tenth
		p.printf("experiment %d: %s", p.n, phaseText(Training, tenth*10, p.word))
	}
}

func (p *Plain) Done(r results.Row, best float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf("experiment %d: %s %.6f (best %.6f) %s", p.n, r.Status, r.Value, best, results.CleanDescription(r.Description))
}

func (p *Plain) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf(format, args...)
}
